"""Writes to agreements, tiers and calendars."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db import transaction
from django.db.models import Count, Max, Q

from agreements.completeness import AgreementFacts, Completeness, TargetFacts, completeness
from agreements.models import (
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
from agreements.models.targets import TARGET_SPEC_FIELDS
from agreements.sections import SECTIONS, SECTIONS_BY_KEY, Section, calendar_section_for
from sla_portal.core.locks import hold_transaction_lock
from sla_portal.core.models import Organisation, Role, User

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
    diffs += _target_differences(agreement.targets.all(), tier.targets.all(), agreement)
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
    from agreements.presentation import format_number

    ordered = sorted(bands, key=lambda b: -b[1])
    return (
        "; ".join(f"below {format_number(b[1])} → {format_number(b[2])} %" for b in ordered)
        or "none"
    )


def _target_differences(
    ours: Iterable[Target], theirs: Iterable[TierTarget], agreement: Agreement | None = None
) -> list[TierDifference]:
    from agreements.sections import section_for_metric

    ours_by_key = {t.scope_key: t for t in ours}
    theirs_by_key = {t.scope_key: t for t in theirs}
    calendars = _effective_calendar_ids(agreement) if agreement is not None else None
    diffs = []
    for key, target in ours_by_key.items():
        section = section_for_metric(target.metric).title
        template = theirs_by_key.get(key)
        if template is None:
            diffs.append(TierDifference(section, f"{target.label}: added", None, "added"))
            continue
        for field in TARGET_COMPARE_FIELDS:
            a, b = getattr(template, field), getattr(target, field)
            if field == "calendar_id" and calendars is not None:
                a, b = calendars(template), calendars(target)
            if a != b:
                name = field.removesuffix("_id").replace("_", " ")
                diffs.append(TierDifference(section, f"{target.label}: {name}", a, b))
    for key, template in theirs_by_key.items():
        if key not in ours_by_key:
            section = section_for_metric(template.metric).title
            diffs.append(TierDifference(section, f"{template.label}: removed", "present", None))
    return diffs


def _effective_calendar_ids(agreement: Agreement):
    """A function giving the calendar id a tier target or agreement target is measured in,
    each under its own section calendars (so an inherited calendar equals a named one)."""
    ours = chosen_calendars(agreement)
    theirs = tier_chosen_calendars(agreement.tier) if agreement.tier_id else {}

    def effective(target: Target | TierTarget) -> int | None:
        # Ids only: comparing must not load each target's calendar.
        if target.calendar_id:
            return target.calendar_id
        chosen = ours if isinstance(target, Target) else theirs
        key = calendar_section_for(target.metric, chosen)
        inherited = chosen.get(key) if key else None
        return inherited.pk if inherited is not None else None

    return effective


def differing_target_ids(agreement: Agreement) -> set[int]:
    """Targets whose values are not the tier's (new targets included)."""
    if agreement.tier is None:
        return set()
    theirs = {t.scope_key: t for t in agreement.tier.targets.all()}
    calendars = _effective_calendar_ids(agreement)
    result = set()
    for target in agreement.targets.all():
        template = theirs.get(target.scope_key)
        if template is None or any(
            (calendars(template) != calendars(target))
            if f == "calendar_id"
            else getattr(template, f) != getattr(target, f)
            for f in TARGET_COMPARE_FIELDS
        ):
            result.add(target.pk)
    return result


# --- Calendars of targets ------------------------------------------------------------------


@dataclass(frozen=True)
class TargetCalendar:
    """The calendar a target is measured in, and where it comes from."""

    calendar: Calendar | None  # None: no calendar anywhere, the clock runs 24x7
    own: bool  # the target names its own calendar
    section: Section | None  # the section whose calendar the target would inherit
    section_calendar: Calendar | None

    @property
    def name(self) -> str:
        return self.calendar.name if self.calendar is not None else "24x7"

    @property
    def disagrees(self) -> bool:
        """The target names a calendar other than the one its section gives."""
        return (
            self.own
            and self.section_calendar is not None
            and self.calendar is not None
            and self.calendar.pk != self.section_calendar.pk
        )

    @property
    def short_source(self) -> str:
        if self.own:
            return "own calendar"
        if self.section is not None:
            return f"section {self.section.number}"
        return "none chosen in sections 2 or 4"

    @property
    def source(self) -> str:
        if self.own:
            return "own calendar"
        if self.section is not None:
            return f"from section {self.section.number}, {self.section.title}"
        return "no calendar chosen in sections 2 or 4"


def chosen_calendars(agreement: Agreement) -> dict[str, Calendar | None]:
    """The calendar each calendar section chose. With several service-hours calendars the
    targets inherit the first by name (a target names its own to use another)."""
    # Sorted here, not in SQL, so prefetched calendars cost no query.
    service = sorted(agreement.service_calendars.all(), key=lambda c: (c.name, c.pk))
    return {"hours": service[0] if service else None, "support": agreement.support_calendar}


def tier_chosen_calendars(tier: Tier) -> dict[str, Calendar | None]:
    return {"hours": tier.service_calendar, "support": tier.support_calendar}


def target_calendar(
    target: Target | TierTarget, chosen: dict[str, Calendar | None], metric: str = ""
) -> TargetCalendar:
    """The effective calendar of ``target``: its own, else its section's (see
    :func:`agreements.sections.calendar_section_for`), else 24x7. ``metric`` stands in for a
    new row's metric that is not chosen yet."""
    key = calendar_section_for(metric or target.metric, chosen) if metric or target.metric else None
    section = SECTIONS_BY_KEY[key] if key else None
    inherited = chosen.get(key) if key else None
    if target.calendar_id:
        return TargetCalendar(target.calendar, True, section, inherited)
    return TargetCalendar(inherited, False, section, inherited)


# --- Completeness --------------------------------------------------------------------------


def agreement_facts(agreement: Agreement) -> AgreementFacts:
    """The plain values :mod:`agreements.completeness` judges."""
    names = {name for section in SECTIONS for name in section.fields}
    names -= {"service_calendars"}
    fields = {name: getattr(agreement, name) for name in names if name != "support_calendar"}
    fields["support_calendar"] = agreement.support_calendar_id
    counts = _related_counts(agreement)
    targets = tuple(
        TargetFacts(t.metric, t.label, t.target_value, t.threshold_value)
        for t in agreement.targets.all()
    )
    return AgreementFacts(fields=fields, counts=counts, targets=targets)


RELATED_LISTS = ("support_channels", "priority_definitions", "credit_bands", "service_calendars")


def _related_counts(agreement: Agreement) -> dict[str, int]:
    prefetched = getattr(agreement, "_prefetched_objects_cache", {})
    if all(name in prefetched for name in (*RELATED_LISTS, "signatories")):
        # The document's selector prefetched the lists: count them without a query.
        sides = [s.side for s in agreement.signatories.all()]
        counts = {name: len(getattr(agreement, name).all()) for name in RELATED_LISTS}
        counts["signatories_provider"] = sides.count("provider")
        counts["signatories_customer"] = sides.count("customer")
        return counts
    # One query for every count.
    return Agreement.objects.filter(pk=agreement.pk).aggregate(
        **{name: Count(name, distinct=True) for name in RELATED_LISTS},
        signatories_provider=Count(
            "signatories", filter=Q(signatories__side="provider"), distinct=True
        ),
        signatories_customer=Count(
            "signatories", filter=Q(signatories__side="customer"), distinct=True
        ),
    )


def agreement_completeness(agreement: Agreement) -> Completeness:
    """Which sections are complete, what each still misses, and which gaps stop a proposal."""
    return completeness(agreement_facts(agreement))


def missing_sections(agreement: Agreement) -> dict[str, list[str]]:
    """Per section key, what is still missing (a section without an entry is complete)."""
    return agreement_completeness(agreement).missing
