"""Writes to agreements, tiers and calendars."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db import transaction
from django.db.models import Max, Q

from sla_portal.core.locks import hold_transaction_lock
from sla_portal.core.models import Organisation, Role, User

from ..models import (
    Agreement,
    Calendar,
    CreditBand,
    PriorityDefinition,
    Service,
    Signatory,
    Target,
    Tier,
    TierTarget,
)
from ..models.targets import TARGET_SPEC_FIELDS
from ..sections import SECTIONS

# Fields an agreement takes from its tier; the agreement may override each one.
TIER_FIELDS = (
    "review_interval_months",
    "fee_amount",
    "fee_period",
    "currency",
    "credit_cap_percent",
    "maintenance_max_minutes",
    "maintenance_notice_days",
    "maintenance_excluded",
)
# The target's spec fields (the calendar by id) plus its place in the table.
TARGET_COPY_FIELDS = (
    *(f"{f}_id" if f == "calendar" else f for f in TARGET_SPEC_FIELDS),
    "position",
)
TARGET_COMPARE_FIELDS = tuple(f for f in TARGET_COPY_FIELDS if f != "position")

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
        Target.objects.bulk_create(
            Target(agreement=agreement, **{f: getattr(t, f) for f in TARGET_COPY_FIELDS})
            for t in tier.targets.all()
        )
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
    from .audit import record_created

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


# --- Differences from the tier -------------------------------------------------------------


@dataclass(frozen=True)
class TierDifference:
    """One value where the agreement departs from its tier template."""

    section: str
    what: str
    tier_value: Any
    agreement_value: Any


def tier_differences(agreement: Agreement) -> list[TierDifference]:
    """Every field, target and credit band in which the agreement differs from its tier."""
    tier = agreement.tier
    if tier is None:
        return []
    diffs: list[TierDifference] = []
    labels = {
        f.name: f.verbose_name for f in Agreement._meta.get_fields() if hasattr(f, "verbose_name")
    }
    section_of = {field: s.title for s in SECTIONS for field in s.fields}
    for field in TIER_FIELDS:
        ours, theirs = getattr(agreement, field), getattr(tier, field)
        if ours != theirs:
            diffs.append(
                TierDifference(section_of.get(field, "Terms"), str(labels[field]), theirs, ours)
            )
    if agreement.support_calendar_id != tier.support_calendar_id:
        diffs.append(
            TierDifference(
                "Support levels", "desk hours", tier.support_calendar, agreement.support_calendar
            )
        )
    tier_service = {tier.service_calendar_id} - {None}
    ours_service = set(agreement.service_calendars.values_list("id", flat=True))
    if tier_service != ours_service:
        diffs.append(
            TierDifference(
                "Service hours",
                "calendars",
                ", ".join(str(c) for c in [tier.service_calendar] if c) or "none",
                ", ".join(str(c) for c in agreement.service_calendars.all()) or "none",
            )
        )
    diffs += _target_differences(agreement.targets.all(), tier.targets.all())
    ours_bands = {
        (b.metric, b.achieved_below, b.credit_percent) for b in agreement.credit_bands.all()
    }
    tier_bands = {(b.metric, b.achieved_below, b.credit_percent) for b in tier.credit_bands.all()}
    if ours_bands != tier_bands:
        diffs.append(
            TierDifference(
                "Charges",
                "service-credit schedule",
                _bands_text(tier_bands),
                _bands_text(ours_bands),
            )
        )
    return diffs


def _bands_text(bands: set) -> str:
    from ..presentation import format_number

    ordered = sorted(bands, key=lambda b: -b[1])
    return (
        "; ".join(f"below {format_number(b[1])} → {format_number(b[2])} %" for b in ordered)
        or "none"
    )


def _target_differences(
    ours: Iterable[Target], theirs: Iterable[TierTarget]
) -> list[TierDifference]:
    from ..sections import section_for_metric

    ours_by_key = {t.scope_key: t for t in ours}
    theirs_by_key = {t.scope_key: t for t in theirs}
    diffs = []
    for key, target in ours_by_key.items():
        section = section_for_metric(target.metric).title
        template = theirs_by_key.get(key)
        if template is None:
            diffs.append(TierDifference(section, f"{target.label}: added", None, "added"))
            continue
        for field in TARGET_COMPARE_FIELDS:
            a, b = getattr(template, field), getattr(target, field)
            if a != b:
                name = field.removesuffix("_id").replace("_", " ")
                diffs.append(TierDifference(section, f"{target.label}: {name}", a, b))
    for key, template in theirs_by_key.items():
        if key not in ours_by_key:
            section = section_for_metric(template.metric).title
            diffs.append(TierDifference(section, f"{template.label}: removed", "present", None))
    return diffs


def differing_target_ids(agreement: Agreement) -> set[int]:
    """Targets whose values are not the tier's (new targets included)."""
    if agreement.tier is None:
        return set()
    theirs = {t.scope_key: t for t in agreement.tier.targets.all()}
    result = set()
    for target in agreement.targets.all():
        template = theirs.get(target.scope_key)
        if template is None or any(
            getattr(template, f) != getattr(target, f) for f in TARGET_COMPARE_FIELDS
        ):
            result.add(target.pk)
    return result


# --- Completeness --------------------------------------------------------------------------


def missing_sections(agreement: Agreement) -> dict[str, list[str]]:
    """Per section key, what still needs content before the agreement can be proposed."""
    missing: dict[str, list[str]] = {}
    targets = list(agreement.targets.all())
    for section in SECTIONS:
        gaps = []
        for field in section.required:
            value = getattr(agreement, field)
            if hasattr(value, "exists"):
                empty = not value.exists()
            else:
                empty = value in (None, "") or (isinstance(value, str) and not value.strip())
            if empty:
                gaps.append(Agreement._meta.get_field(field).verbose_name)
        if section.key == "availability" and not any(t.metric == "availability" for t in targets):
            gaps.append("an availability target")
        if section.key == "support" and not any(
            t.metric in section.target_metrics for t in targets
        ):
            gaps.append("response or resolution targets")
        if section.key == "description":
            sides = set(agreement.signatories.values_list("side", flat=True))
            if sides != {"provider", "customer"}:
                gaps.append("signatories of both sides")
        if gaps:
            missing[section.key] = [str(g) for g in gaps]
    return missing
