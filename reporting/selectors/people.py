"""Who is who in an organisation: its people, and which of them sign agreements or hear of
alerts. Reads core, agreements and monitoring, hence in reporting (layers point down only).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q

from agreements.models import Signatory
from monitoring.models import EscalationContact
from sla_portal.core.models import AccountEvent, Organisation, User
from sla_portal.core.selectors import account_events_of, members_of
from sla_portal.core.services import can_manage_people, roles_for


@dataclass
class OrganisationPage:
    organisation: Organisation
    members: list[User]
    signatories: list[Signatory]
    escalation_contacts: list[EscalationContact]
    events: list[AccountEvent]
    can_manage: bool
    roles: list[tuple[str, str]]


def organisation_page(user: User, organisation: Organisation) -> OrganisationPage:
    """Everything the organisation page shows, scoped to ``user``, in a fixed number of
    queries.

    Signatories: for a customer, the customer-side signatories of its agreements; for the
    provider, the provider-side signatories of every agreement. Escalation contacts: for a
    customer, every contact of its agreements' escalation matrices (people of either side,
    or plain addresses); for the provider, the matrices' entries naming its people."""
    signatories = Signatory.objects.visible_to(user).select_related("agreement", "user")
    contacts = EscalationContact.objects.visible_to(user).select_related(
        "agreement", "user", "agreement__customer"
    )
    if organisation.is_provider:
        signatories = signatories.filter(side=Signatory.Side.PROVIDER)
        contacts = contacts.filter(user__organisation=organisation)
    else:
        signatories = signatories.filter(
            agreement__customer=organisation, side=Signatory.Side.CUSTOMER
        )
        contacts = contacts.filter(Q(agreement__customer=organisation))
    can_manage = can_manage_people(user)
    return OrganisationPage(
        organisation=organisation,
        members=list(members_of(user, organisation)),
        signatories=list(signatories.order_by("name", "agreement__reference")),
        escalation_contacts=list(contacts.order_by("agreement__reference", "level", "id")),
        events=account_events_of(user, organisation) if can_manage else [],
        can_manage=can_manage,
        roles=roles_for(organisation),
    )
