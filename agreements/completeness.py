"""What "complete" means for each section of an agreement, as plain rules over plain values.

No Django import: the drafting service reads the agreement into :class:`AgreementFacts` and
asks :func:`completeness`; the editor's ticks, the document's notes and the proposal step all
read the one answer, so a section never shows a tick while its essentials are empty.

Two kinds of gap:

* **expected** content (RTO, RPO, DR plan, support channels, the security text, ...): the
  section is incomplete and shows no tick; the agreement can still be proposed, but only when
  the service manager confirms that it goes out incomplete.
* **essential** content, without which the SLA cannot be measured or signed (no target at
  all, a target without its target or threshold value, no signatory on one side): the
  proposal is refused until it is there.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from agreements.sections import SECTIONS

SECTION_ORDER = tuple(section.key for section in SECTIONS)
SECTION_OF_METRIC = {
    metric: section.key for section in SECTIONS for metric in section.target_metrics
}


@dataclass(frozen=True)
class TargetFacts:
    metric: str
    label: str
    target_value: Decimal | None
    threshold_value: Decimal | None


@dataclass(frozen=True)
class AgreementFacts:
    """What the rules look at. ``fields`` maps agreement field names to their values;
    ``counts`` how many rows each related list has (``signatories_provider``,
    ``signatories_customer``, ``support_channels``, ``priority_definitions``,
    ``credit_bands``, ``service_calendars``)."""

    fields: Mapping[str, Any]
    counts: Mapping[str, int]
    targets: tuple[TargetFacts, ...] = ()


@dataclass(frozen=True)
class Gap:
    section: str
    what: str
    essential: bool = False


@dataclass(frozen=True)
class Completeness:
    gaps: tuple[Gap, ...] = field(default=())

    @property
    def missing(self) -> dict[str, list[str]]:
        """Per section key, what is still missing (essential and expected alike)."""
        result: dict[str, list[str]] = {}
        for gap in self.gaps:
            result.setdefault(gap.section, []).append(gap.what)
        return result

    @property
    def blocking(self) -> tuple[Gap, ...]:
        """Gaps that stop a proposal: without them the SLA cannot be measured or signed."""
        return tuple(gap for gap in self.gaps if gap.essential)

    @property
    def expected(self) -> tuple[Gap, ...]:
        """Gaps a proposal may go out with, once the service manager confirms it."""
        return tuple(gap for gap in self.gaps if not gap.essential)

    def is_complete(self, section: str) -> bool:
        return not any(gap.section == section for gap in self.gaps)


def _text(facts: AgreementFacts, name: str) -> bool:
    value = facts.fields.get(name)
    return isinstance(value, str) and bool(value.strip())


def _value(facts: AgreementFacts, name: str) -> bool:
    return facts.fields.get(name) not in (None, "")


def _has_target(facts: AgreementFacts, *metrics: str) -> bool:
    return any(t.metric in metrics for t in facts.targets)


Rule = tuple[str, str, Callable[[AgreementFacts], bool]]

# Per section: (section key, what is missing when the check fails, check). Documented in
# docs/agreements.md ("When is a section complete?"); keep the two in step.
EXPECTED: tuple[Rule, ...] = (
    ("description", "service description", lambda f: _text(f, "service_description")),
    ("hours", "a service-hours calendar", lambda f: f.counts.get("service_calendars", 0) > 0),
    (
        "availability",
        "an availability target",
        lambda f: _has_target(f, "availability"),
    ),
    ("support", "service-desk hours (a support calendar)", lambda f: _value(f, "support_calendar")),
    (
        "support",
        "a service-desk channel (phone, email or portal)",
        lambda f: f.counts.get("support_channels", 0) > 0,
    ),
    (
        "support",
        "priority definitions",
        lambda f: f.counts.get("priority_definitions", 0) > 0,
    ),
    (
        "support",
        "response or resolution targets",
        lambda f: _has_target(f, "response_time", "resolution_time"),
    ),
    (
        "performance",
        "a performance target, or notes saying why none is measured",
        lambda f: _has_target(f, "performance", "custom") or _text(f, "performance_notes"),
    ),
    (
        "functionality",
        "an error-count target, or notes saying why none is measured",
        lambda f: _has_target(f, "error_count") or _text(f, "functionality_notes"),
    ),
    (
        "charges",
        "a fee or a charging formula",
        lambda f: (f.fields.get("fee_amount") or 0) > 0 or _text(f, "charging_formula"),
    ),
    ("continuity", "RTO (recovery time objective)", lambda f: _value(f, "rto_minutes")),
    ("continuity", "RPO (recovery point objective)", lambda f: _value(f, "rpo_minutes")),
    ("continuity", "disaster-recovery plan reference", lambda f: _text(f, "dr_plan_reference")),
    ("security", "security procedures", lambda f: _text(f, "security_procedures")),
    ("changes", "change policy", lambda f: _text(f, "change_policy")),
)


def completeness(facts: AgreementFacts) -> Completeness:
    """Every gap of the agreement, section by section, in the order of the sections."""
    gaps: list[Gap] = []
    # Essential: the parties must be able to sign it ...
    sides = [
        side for side in ("provider", "customer") if facts.counts.get(f"signatories_{side}", 0) < 1
    ]
    if sides:
        gaps.append(
            Gap("description", f"a signatory of the {' and the '.join(sides)}", essential=True)
        )
    for section, what, check in EXPECTED:
        if not check(facts):
            gaps.append(Gap(section, what))
    # ... and monitoring must be able to measure it.
    if not facts.targets:
        gaps.append(
            Gap(
                "availability",
                "at least one target (without targets nothing can be measured)",
                essential=True,
            )
        )
    for target in facts.targets:
        if target.target_value is None or target.threshold_value is None:
            gaps.append(
                Gap(
                    SECTION_OF_METRIC.get(target.metric, "performance"),
                    f"target and threshold values of {target.label}",
                    essential=True,
                )
            )
    order = {key: n for n, key in enumerate(SECTION_ORDER)}
    gaps.sort(key=lambda g: order.get(g.section, len(order)))
    return Completeness(tuple(gaps))
