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
        "Service desk channels, desk hours, after-hours procedure, priorities and "
        "response/resolution targets.",
        ("support_calendar", "after_hours_procedure"),
        target_metrics=("response_time", "resolution_time"),
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
