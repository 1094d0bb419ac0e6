"""The ten ITIL sections of an agreement: which fields and targets belong to each."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Section:
    key: str
    number: int
    title: str
    summary: str
    fields: tuple[str, ...]
    target_metrics: tuple[str, ...] = ()
    # Related lists edited with the section: signatories, support channels, ...
    related: tuple[str, ...] = ()
    # Fields that must have content before the agreement can be proposed.
    required: tuple[str, ...] = field(default=())


SECTIONS: tuple[Section, ...] = (
    Section(
        "description",
        1,
        "Service description",
        "Key business functions and deliverables, scale, impact, priority and signatories.",
        ("service_description", "scale", "business_impact", "business_priority"),
        related=("signatories",),
        required=("service_description",),
    ),
    Section(
        "hours",
        2,
        "Service hours",
        "The calendars (time zone, weekly hours, holidays) the service is provided in.",
        ("service_calendars", "service_hours_notes"),
        required=("service_calendars",),
    ),
    Section(
        "availability",
        3,
        "Availability",
        "Availability targets within service hours and the maintenance policy.",
        (
            "maintenance_max_minutes",
            "maintenance_notice_days",
            "maintenance_excluded",
            "availability_notes",
        ),
        target_metrics=("availability",),
    ),
    Section(
        "support",
        4,
        "Support levels",
        "Service desk channels, desk hours, after-hours procedure, priorities, "
        "response/resolution targets and the customer's experience (CSAT, NPS).",
        ("support_calendar", "after_hours_procedure"),
        target_metrics=("response_time", "resolution_time", "csat", "nps"),
        related=("support_channels", "priority_definitions"),
        required=("support_calendar",),
    ),
    Section(
        "performance",
        5,
        "Performance",
        "Measured values of the service (e.g. p95 page time) with the threshold of "
        "unacceptable service.",
        ("performance_notes",),
        target_metrics=("performance", "custom"),
    ),
    Section(
        "functionality",
        6,
        "Functionality",
        "Error categories and how many errors each tolerates per period.",
        ("functionality_notes",),
        target_metrics=("error_count",),
    ),
    Section(
        "charges",
        7,
        "Charges",
        "Fees, charging formula, currency and the service-credit schedule.",
        (
            "fee_amount",
            "fee_period",
            "currency",
            "charging_formula",
            "credit_cap_percent",
            "credit_exclusions",
        ),
        related=("credit_bands",),
    ),
    Section(
        "continuity",
        8,
        "Continuity",
        "RTO, RPO, disaster-recovery plan and recovery targets.",
        ("rto_minutes", "rpo_minutes", "dr_plan_reference", "continuity_notes"),
        target_metrics=("recovery_time",),
    ),
    Section(
        "security",
        9,
        "Security",
        "Security procedures, protocols and measures; incident notification target.",
        ("security_procedures", "security_protocols", "security_measures"),
        target_metrics=("security_notification",),
    ),
    Section(
        "changes",
        10,
        "Changes",
        "Change-management policy, notice periods and approval procedure.",
        ("change_policy", "change_notice_days", "change_approval"),
        required=("change_policy",),
    ),
)

SECTIONS_BY_KEY = {section.key: section for section in SECTIONS}

# Narrative fields are Markdown, rendered sanitised.
MARKDOWN_FIELDS = frozenset(
    {
        "service_description",
        "scale",
        "business_impact",
        "service_hours_notes",
        "availability_notes",
        "after_hours_procedure",
        "performance_notes",
        "functionality_notes",
        "charging_formula",
        "credit_exclusions",
        "continuity_notes",
        "security_procedures",
        "security_protocols",
        "security_measures",
        "change_policy",
        "change_approval",
    }
)


def section_for_metric(metric: str) -> Section:
    for section in SECTIONS:
        if metric in section.target_metrics:
            return section
    raise KeyError(metric)


# Sections that choose a calendar, and the agreement (or tier) field each chooses it in.
CALENDAR_SECTIONS = {"hours": "service_calendars", "support": "support_calendar"}


def calendar_section_for(metric: str, chosen: dict[str, object | None]) -> str | None:
    """The section whose calendar a target of ``metric`` inherits: the nearest section at or
    before the target's own section (in the ITIL order) that chose one; None when none did.

    ``chosen`` maps the keys of :data:`CALENDAR_SECTIONS` to the calendar chosen there (or
    None). So the service-hours calendar (section 2) covers availability (3), and the
    service-desk calendar (section 4), once chosen, covers the support targets (4) and every
    section after it; without it, those targets keep the service-hours calendar."""
    number = section_for_metric(metric).number
    for section in reversed(SECTIONS):
        if section.number <= number and chosen.get(section.key) is not None:
            return section.key
    return None
