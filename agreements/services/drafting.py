"""Writes to agreements, tiers and calendars."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from django.db import transaction
from django.db.models import Max, Q

from agreements.calendars import tier_chosen_calendars
from agreements.models import (
    Agreement,
    Calendar,
    CreditBand,
    PriorityDefinition,
    Service,
    Signatory,
    Target,
    Tier,
)
from agreements.sections import calendar_section_for
from agreements.tier_differences import TARGET_COPY_FIELDS, TIER_FIELDS
from sla_portal.core.locks import hold_transaction_lock
from sla_portal.core.models import Organisation, Role, User

DEFAULT_PRIORITIES = (
    ("P1", "Critical", "The service is down or unusable for many users; no workaround."),
    ("P2", "High", "A major function is impaired for many users, or the service is degraded."),
    ("P3", "Medium", "A function is impaired for some users; a workaround exists."),
    ("P4", "Low", "A question, a minor fault or a request with no business impact."),
)


class AgreementError(Exception):
    """A rule of the agreement stops the write; the message says which and why."""


def next_reference(today: date | None = None) -> str:
    """The next free reference of the form SLA-2026-0007."""
    year = (today or date.today()).year
    prefix = f"SLA-{year}-"
    taken = Agreement.objects.filter(reference__startswith=prefix).values_list(
        "reference", flat=True
    )
    numbers = [int(ref[len(prefix) :]) for ref in taken if ref[len(prefix) :].isdigit()]
    return f"{prefix}{max(numbers, default=0) + 1:04d}"


@transaction.atomic
def agreement_create_from_tier(
    *,
    tier: Tier | None,
    customer: Organisation,
    title: str,
    services: Iterable[Service],
    effective_from: date,
    effective_to: date | None = None,
    created_by: User | None = None,
    reference: str = "",
) -> Agreement:
    """A new draft agreement with the tier's defaults copied in: calendars, charges,
    maintenance policy, targets and credit bands; standard P1-P4 definitions; signatories
    proposed from the drafting manager and the customer's approvers."""
    if customer.is_provider:
        raise AgreementError("An agreement is with a customer organisation, not the provider.")
    if not reference:
        # Until this transaction commits, another one numbering an agreement waits here
        # rather than computing the same next reference.
        hold_transaction_lock("agreement-reference")
    agreement = Agreement(
        customer=customer,
        tier=tier,
        title=title,
        reference=reference or next_reference(),
        effective_from=effective_from,
        effective_to=effective_to,
        created_by=created_by,
    )
    if tier is not None:
        for field in TIER_FIELDS:
            setattr(agreement, field, getattr(tier, field))
        agreement.support_calendar = tier.support_calendar
    agreement.full_clean()
    agreement.save()
    agreement.services.set(services)
    if tier is not None:
        if tier.service_calendar_id:
            agreement.service_calendars.add(tier.service_calendar_id)
        # A tier target whose calendar is its section's stores none: it inherits, so a
        # calendar chosen later for section 2 or 4 reaches it (see docs/agreements.md).
        chosen = tier_chosen_calendars(tier)
        copies = []
        for t in tier.targets.all():
            values = {f: getattr(t, f) for f in TARGET_COPY_FIELDS}
            inherited = chosen.get(calendar_section_for(t.metric, chosen) or "")
            if inherited is not None and t.calendar_id == inherited.pk:
                values["calendar_id"] = None
            copies.append(Target(agreement=agreement, **values))
        Target.objects.bulk_create(copies)
        CreditBand.objects.bulk_create(
            CreditBand(
                agreement=agreement,
                metric=band.metric,
                achieved_below=band.achieved_below,
                credit_percent=band.credit_percent,
            )
            for band in tier.credit_bands.all()
        )
    PriorityDefinition.objects.bulk_create(
        PriorityDefinition(agreement=agreement, priority=p, name=n, meaning=m)
        for p, n, m in DEFAULT_PRIORITIES
    )
    signatories = []
    if created_by is not None and created_by.organisation_id:
        signatories.append(_signatory_for(agreement, created_by, Signatory.Side.PROVIDER))
    for approver in customer.users.filter(role=Role.CUSTOMER_APPROVER, is_active=True):
        signatories.append(_signatory_for(agreement, approver, Signatory.Side.CUSTOMER))
    Signatory.objects.bulk_create(signatories)
    # bulk_create sends no signals: put the copied rows in the audit trail explicitly.
    from agreements.services.audit import record_created

    record_created(
        [
            *agreement.targets.all(),
            *agreement.credit_bands.all(),
            *agreement.priority_definitions.all(),
            *agreement.signatories.all(),
        ]
    )
    return agreement


def _signatory_for(agreement: Agreement, user: User, side: str) -> Signatory:
    return Signatory(
        agreement=agreement,
        side=side,
        name=user.display_name,
        role=user.job_title or user.get_role_display(),
        organisation_name=user.organisation.name,
        email=user.email,
        user=user,
    )


# Once an agreement is agreed, its calendars are part of what was signed.
FROZEN_STATES = ("agreed", "active", "under_review", "renegotiating", "terminated", "expired")


def calendar_frozen_reason(calendar: Calendar) -> str:
    """Why the calendar may not change any more ('' when it may): signed agreements use it."""
    references = sorted(
        Agreement.objects.filter(status__in=FROZEN_STATES)
        .filter(
            Q(service_calendars=calendar)
            | Q(support_calendar=calendar)
            | Q(targets__calendar=calendar)
        )
        .values_list("reference", flat=True)
        .distinct()
    )
    if not references:
        return ""
    return (
        f"Signed agreements use this calendar ({', '.join(references)}): their service hours "
        "cannot change. Create a new calendar and use it in a new version instead."
    )


def next_target_position(agreement: Agreement) -> int:
    current = agreement.targets.aggregate(top=Max("position"))["top"]
    return (current or 0) + 1
