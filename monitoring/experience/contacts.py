"""Who is asked about what: the survey kinds, the contacts of a customer and the experience
targets in force of an agreement (reads the asking and the evaluation share)."""

from __future__ import annotations

from datetime import timedelta

from agreements.models import Agreement
from agreements.terms import MONITORED_STATES, terms_of_version
from sla_portal.core.models import CUSTOMER_ROLES, User

# Only tickets resolved this recently are asked about: an import of last year's tickets
# must not send the customer a thousand surveys, and a memory of weeks ago is a poor rating.
INVITE_RESOLVED_WITHIN = timedelta(days=3)
CSAT_KIND = "survey.csat"
NPS_KIND = "survey.nps"
CSAT_CHOICES = (
    (1, "Very dissatisfied"),
    (2, "Dissatisfied"),
    (3, "Neutral"),
    (4, "Satisfied"),
    (5, "Very satisfied"),
)


def survey_contacts(customer_id: int) -> list[User]:
    """Who is asked: the active users of the customer organisation (viewers and approvers).

    Tickets carry no requester address, and the escalation matrix lists who hears about
    breaches (mostly the provider's people), not who uses the service."""
    return list(
        User.objects.filter(
            organisation_id=customer_id, is_active=True, role__in=list(CUSTOMER_ROLES)
        )
        .exclude(email="")
        .order_by("pk")
    )


def has_experience_target(agreement: Agreement, metric: str) -> bool:
    """Whether the agreement's version in force has a ``metric`` (csat/nps) target."""
    return experience_services(agreement, metric) is not None


ALL_SERVICES = frozenset({"*"})


def experience_services(agreement: Agreement, metric: str) -> frozenset[str] | None:
    """The names of the services the agreement's ``metric`` (csat/nps) targets in force
    cover: ``ALL_SERVICES`` when one covers every service, None without such a target."""
    if agreement.status not in MONITORED_STATES or not agreement.in_force_version_id:
        return None
    terms = terms_of_version(agreement.in_force_version_id)
    targets = [target for target in terms.targets if target.metric == metric]
    if not targets:
        return None
    if any(not target.service for target in targets):
        return ALL_SERVICES
    return frozenset(target.service for target in targets)
