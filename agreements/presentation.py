"""How an agreement reads: values with their units, hours in words, rows for the tables.

The pure formatting it uses is ``agreements.formatting``. ``document_context`` at the bottom
gathers everything the agreement document (page and PDF) shows from one agreement loaded by
``selectors.agreement_document``, so the views stay thin and the templates stay dumb.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.utils.html import format_html

from agreements.calendars import chosen_calendars, target_calendar
from agreements.facts import missing_sections
from agreements.formatting import (
    COMPLIANCE_NOUN,
    compliance_text,
    credit_band_rows,
    describe,
    format_duration,
    format_money,
    format_percent,
    format_value,
    holidays_text,
    weekly_hours_text,
)
from agreements.sections import SECTIONS, SECTIONS_BY_KEY, Section, section_for_metric
from agreements.status import status_of
from agreements.tier_differences import TIER_FIELDS, differing_target_ids, tier_differences


def section_heading(key: str) -> str:
    """A section as people name it: '3. Availability'; 'General' for the whole agreement."""
    section = SECTIONS_BY_KEY.get(key)
    if section is None:
        return "General" if key in ("", "general") else key
    return f"{section.number}. {section.title}"


# --- Rows and sections of the document -----------------------------------------------------


@dataclass(frozen=True)
class Mark:
    """'differs from Gold' next to a value, with the tier's value in words beside it.

    Renders itself so every place that marks a difference looks the same and says it in
    text, not only in colour. Django's templates call ``str()`` before escaping, so
    ``__str__`` returns the safe HTML; ``text`` is the plain sentence."""

    tier_name: str
    tier_text: str

    @property
    def text(self) -> str:
        return f"differs from {self.tier_name} ({self.tier_name}: {self.tier_text})"

    def __str__(self) -> str:
        return format_html(
            '<span class="doc-differs" title="{tier}: {value}">'
            '<span class="badge doc-differs-badge"><i class="bi bi-exclamation-diamond" '
            'aria-hidden="true"></i> differs from {tier}</span> '
            '<small class="doc-differs-value">{tier}: {value}</small></span>',
            tier=self.tier_name,
            value=self.tier_text,
        )

    __html__ = __str__


@dataclass(frozen=True)
class TargetRow:
    pk: int
    label: str
    scope: str
    target: str
    threshold: str
    compliance: str
    period: str
    calendar_name: str
    calendar_pk: int | None
    warning: str
    mark: Mark | None = None


@dataclass(frozen=True)
class CalendarView:
    pk: int
    name: str
    description: str
    timezone: str
    hours: str
    holidays: str


@dataclass(frozen=True)
class DifferenceRow:
    section: str
    what: str
    tier_value: str
    agreement_value: str


@dataclass
class SectionView:
    section: Section
    targets: list[TargetRow] = field(default_factory=list)
    gaps: list[str] = field(default_factory=list)

    @property
    def key(self) -> str:
        return self.section.key

    @property
    def has_targets(self) -> bool:
        """Whether the section is where targets of some metric belong."""
        return bool(self.section.target_metrics)

    @property
    def target_heading(self) -> str:
        return "Errors tolerated" if self.key == "functionality" else "Target"

    @property
    def threshold_heading(self) -> str:
        return "Breach threshold" if self.key == "functionality" else "Threshold"


def calendar_view(calendar: Any) -> CalendarView:
    """A calendar as the document describes it; needs its ``hours`` prefetched."""
    if calendar.is_24x7:
        hours = "24 hours a day, 7 days a week"
    else:
        # A calendar as a version proposed it carries its hours prefetched and may have no
        # row of its own any more (renamed since): read the prefetched rows first.
        rows = getattr(calendar, "_prefetched_objects_cache", {}).get("hours")
        if rows is None:
            rows = calendar.hours.all()
        hours = weekly_hours_text((h.weekday, h.start, h.end) for h in rows)
    return CalendarView(
        pk=calendar.pk,
        name=calendar.name,
        description=calendar.description,
        timezone=calendar.timezone,
        hours=hours,
        holidays=holidays_text(calendar.holiday_country, calendar.holiday_subdivision),
    )


def _calendar_name(calendar_id: int | None, names: Mapping[int, str]) -> str:
    if calendar_id is None:
        return "24x7"
    return names.get(calendar_id, "another calendar")


def _tier_target_text(template: Any, target: Any, calendar_names: Mapping[int, str]) -> str:
    """What the tier says where this target departs from it, value first."""
    parts = []
    if (template.target_value, template.threshold_value, template.unit) != (
        target.target_value,
        target.threshold_value,
        target.unit,
    ):
        parts.append(
            f"{format_value(template.target_value, template.unit)} / "
            f"{format_value(template.threshold_value, template.unit)}"
        )
    if (template.compliance_target, template.compliance_threshold) != (
        target.compliance_target,
        target.compliance_threshold,
    ):
        noun = COMPLIANCE_NOUN.get(template.data_source, "cases")
        goal = compliance_text(template.compliance_target, template.compliance_threshold, noun)
        parts.append(goal or "no compliance goal")
    if template.period != target.period:
        parts.append(f"per {template.get_period_display().lower()}")
    if template.calendar_id != target.calendar_id:
        parts.append(f"calendar {_calendar_name(template.calendar_id, calendar_names)}")
    if template.warning_percent != target.warning_percent:
        parts.append(f"warn at {format_percent(template.warning_percent)}")
    return ", ".join(parts) or "other measurement terms"


def _target_calendar_text(target: Any, calendar: Any) -> str:
    if calendar is None:
        return target.calendar.name if target.calendar_id else "24x7"
    if calendar.own or calendar.section is None:
        return calendar.name
    return f"{calendar.name} (section {calendar.section.number})"


def _sample_text(min_responses: int | None) -> str:
    """An experience target's minimum sample, where the compliance goal would be."""
    if not min_responses:
        return ""
    return f"verdict from {min_responses} response{'s' if min_responses != 1 else ''}"


def target_row(
    target: Any,
    *,
    template: Any = None,
    differs: bool = False,
    tier_name: str = "",
    calendar_names: Mapping[int, str] | None = None,
    calendar: Any = None,
) -> TargetRow:
    """One line of a targets table; ``template`` is the tier's target of the same scope;
    ``calendar`` the target's effective calendar (``services.target_calendar``), when known."""
    mark = None
    if differs and tier_name:
        text = (
            _tier_target_text(template, target, calendar_names or {})
            if template is not None
            else "not in the tier (added)"
        )
        mark = Mark(tier_name, text)
    noun = COMPLIANCE_NOUN.get(target.data_source, "cases")
    return TargetRow(
        pk=target.pk,
        label=target.label,
        scope=target.service.name if target.service is not None else "All services",
        target=format_value(target.target_value, target.unit),
        threshold=format_value(target.threshold_value, target.unit),
        compliance=compliance_text(target.compliance_target, target.compliance_threshold, noun)
        or _sample_text(getattr(target, "min_responses", None)),
        period=target.get_period_display(),
        calendar_name=_target_calendar_text(target, calendar),
        calendar_pk=(
            calendar.calendar.pk if calendar and calendar.calendar else target.calendar_id
        ),
        warning=format_percent(target.warning_percent),
        mark=mark,
    )


# Agreement fields that are not in TIER_FIELDS but are compared with the tier, by the name
# services.tier_differences gives them.
_OTHER_COMPARED = {
    "desk hours": "support_calendar",
    "calendars": "service_calendars",
    "service-credit schedule": "credit_bands",
}
# What people call the fields compared with the tier (verbose names are database-speak).
FIELD_LABELS = {
    "review_interval_months": "review interval",
    "fee_amount": "fee",
    "fee_period": "fee period",
    "currency": "currency",
    "credit_cap_percent": "service-credit cap",
    "maintenance_max_minutes": "planned maintenance per month",
    "maintenance_notice_days": "maintenance notice",
    "maintenance_excluded": "announced maintenance excluded from downtime",
    "support_calendar": "desk hours",
    "service_calendars": "service calendars",
    "credit_bands": "service-credit schedule",
}
# Target fields whose values are in the target's own unit, or are percentages.
_TARGET_UNIT_FIELDS = {"target value", "threshold value"}
_TARGET_PERCENT_FIELDS = {"compliance target", "compliance threshold", "warning percent"}


def bands_text(bands: Iterable[tuple[Decimal, Decimal]]) -> str:
    """A credit schedule on one line: 'below 99.9 % → 5 %; below 99.5 % → 10 %'."""
    steps = sorted(bands, key=lambda band: band[0], reverse=True)
    if not steps:
        return "none"
    return "; ".join(f"below {format_percent(b)} → {format_percent(c)}" for b, c in steps)


def field_value_text(name: str, value: Any, currency: str) -> str:
    """A value of an agreement (or tier) field compared with the tier, in words."""
    if value is None:
        return "—"
    if name == "fee_amount":
        return format_money(value, currency)
    if name == "credit_cap_percent":
        return format_percent(value)
    if name == "maintenance_max_minutes":
        return format_duration(value)
    if name == "maintenance_notice_days":
        return f"{value} day{'s' if value != 1 else ''}"
    if name == "review_interval_months":
        return f"every {value} month{'s' if value != 1 else ''}"
    if name == "fee_period":
        return f"per {value}"
    return describe(value)


def _compared_field(agreement: Any, what: str) -> str | None:
    by_label = {str(agreement._meta.get_field(name).verbose_name): name for name in TIER_FIELDS}
    return by_label.get(what) or _OTHER_COMPARED.get(what)


def _bands_of(owner: Any) -> list[tuple[Decimal, Decimal]]:
    return [(band.achieved_below, band.credit_percent) for band in owner.credit_bands.all()]


def field_marks(agreement: Any, differences: Iterable[Any]) -> dict[str, Mark]:
    """Per agreement field (and 'credit_bands'), the mark saying what the tier has."""
    tier = agreement.tier
    if tier is None:
        return {}
    marks = {}
    for diff in differences:
        name = _compared_field(agreement, diff.what)
        if name == "credit_bands":
            marks[name] = Mark(tier.name, bands_text(_bands_of(tier)))
        elif name is not None:
            marks[name] = Mark(tier.name, field_value_text(name, diff.tier_value, tier.currency))
    return marks


def difference_rows(
    agreement: Any, differences: Iterable[Any], calendar_names: Mapping[int, str]
) -> list[DifferenceRow]:
    """The 'Differences from tier' summary in words: fields by the names people use, values
    with their units and currency, calendars by name."""
    tier = agreement.tier
    targets_by_label = {t.label: t for t in agreement.targets.all()}
    if tier is not None:
        for template in tier.targets.all():
            targets_by_label.setdefault(template.label, template)
    rows = []
    for diff in differences:
        what, theirs, ours = diff.what, diff.tier_value, diff.agreement_value
        name = _compared_field(agreement, what)
        if name == "credit_bands":
            theirs, ours = bands_text(_bands_of(tier)), bands_text(_bands_of(agreement))
        elif name is not None:
            theirs = field_value_text(name, theirs, tier.currency)
            ours = field_value_text(name, ours, agreement.currency)
        else:
            label, _, target_field = what.rpartition(": ")
            target = targets_by_label.get(label)
            if target_field == "calendar":
                theirs = _calendar_name(theirs, calendar_names)
                ours = _calendar_name(ours, calendar_names)
            elif target_field in _TARGET_UNIT_FIELDS and target is not None:
                theirs, ours = format_value(theirs, target.unit), format_value(ours, target.unit)
            elif target_field in _TARGET_PERCENT_FIELDS:
                theirs, ours = format_percent(theirs), format_percent(ours)
        rows.append(
            DifferenceRow(
                diff.section, FIELD_LABELS.get(name, what), describe(theirs), describe(ours)
            )
        )
    # In the order of the document (terms such as the review interval first).
    order = {section.title: section.number for section in SECTIONS}
    return sorted(rows, key=lambda row: order.get(row.section, 0))


def document_context(agreement: Any, *, review: bool = False) -> dict[str, Any]:
    """Everything the agreement document shows, for the page and the PDF template.

    ``agreement`` comes from ``selectors.agreement_document`` (everything prefetched).
    ``review`` adds what only the provider's staff work with: the differences from the tier
    template (the tier's values are the provider's price list, hidden from customers) and
    the checklist of gaps before the agreement can be proposed."""
    tier = agreement.tier
    targets = list(agreement.targets.all())
    service_calendars = list(agreement.service_calendars.all())
    calendar_names = {c.pk: c.name for c in service_calendars}
    calendar_names.update({t.calendar_id: t.calendar.name for t in targets if t.calendar_id})
    for calendar in (agreement.support_calendar, tier and tier.service_calendar):
        if calendar:
            calendar_names[calendar.pk] = calendar.name

    differences, differing, marks, gaps = [], set(), {}, {}
    templates: dict[tuple, Any] = {}
    if review:
        differences = tier_differences(agreement)
        differing = differing_target_ids(agreement)
        marks = field_marks(agreement, differences)
        gaps = missing_sections(agreement)
        if tier is not None:
            templates = {t.scope_key: t for t in tier.targets.all()}

    sections = {
        section.key: SectionView(section, gaps=gaps.get(section.key, [])) for section in SECTIONS
    }
    chosen = chosen_calendars(agreement)
    for target in targets:
        sections[section_for_metric(target.metric).key].targets.append(
            target_row(
                target,
                calendar=target_calendar(target, chosen),
                template=templates.get(target.scope_key),
                differs=target.pk in differing,
                tier_name=tier.name if tier else "",
                calendar_names=calendar_names,
            )
        )

    status = status_of(agreement)
    bands = [
        (band.get_metric_display(), band.achieved_below, band.credit_percent)
        for band in agreement.credit_bands.all()
    ]
    cap_amount = agreement.fee_amount * agreement.credit_cap_percent / 100
    # The provider is named as its signatories name it: no read outside the agreement.
    provider_name = next(
        (s.organisation_name for s in agreement.signatories.all() if s.side == "provider"), ""
    )
    return {
        "agreement": agreement,
        "provider_name": provider_name,
        "sections": list(sections.values()),
        "status": status,
        "status_class": status.css,
        "status_icon": status.icon,
        "service_calendars": [calendar_view(c) for c in service_calendars],
        "support_calendar": (
            calendar_view(agreement.support_calendar) if agreement.support_calendar else None
        ),
        "fee": format_money(agreement.fee_amount, agreement.currency),
        "fee_period": agreement.get_fee_period_display().lower(),
        "credit_cap": format_percent(agreement.credit_cap_percent),
        "credit_cap_amount": format_money(cap_amount, agreement.currency),
        "credit_bands": credit_band_rows(bands, agreement.fee_amount, agreement.currency),
        "maintenance_max": format_duration(agreement.maintenance_max_minutes),
        "rto": format_duration(agreement.rto_minutes),
        "rpo": format_duration(agreement.rpo_minutes),
        "review": review,
        # Set when the document shows a proposed version rather than the working copy.
        "shown_version": getattr(agreement, "shown_version", None),
        "differences": difference_rows(agreement, differences, calendar_names),
        "marks": marks,
        "gaps": [(sections[key].section, items) for key, items in gaps.items()],
    }
