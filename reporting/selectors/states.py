"""States as the dashboards show them: a red/amber/green/grey class, an icon and a word for a
period or timer status and for a breach or alert level, in the words of every other page.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.html import format_html

from monitoring.models import Breach, Status
from monitoring.presentation import level_badge, status_badge
from reporting.selectors.stamps import Stamp, stamp


@dataclass(frozen=True)
class State:
    """A state as shown: a red/amber/green/grey class, an icon and a word (never colour alone)."""

    rag: str  # green, amber, red, grey: the CSS modifier (static/css/dashboard.css)
    icon: str
    text: str

    @property
    def html(self) -> str:
        """The state as a dashboard shows it, icon and word; built here rather than by an
        ``{% include %}`` per table row, which costs a template render each."""
        return format_html(
            '<span class="dash-state dash-state-{}" data-rag="{}">'
            '<i class="bi {}" aria-hidden="true"></i> {}</span>',
            self.rag,
            self.rag,
            self.icon,
            self.text,
        )

    @property
    def css(self) -> str:
        """The portal-wide text class of the state (static/css/portal.css), for pages that
        do not load the dashboard styles."""
        return PORTAL_CSS[self.rag]


PORTAL_CSS = {
    "green": "state-ok",
    "amber": "state-warn",
    "red": "state-bad",
    "grey": "text-body-secondary",
}

# The provider's traffic light: a missed target is amber (the period may still count against
# the threshold only), a breached threshold red, met green, nothing to measure grey. Icons
# and words are the ones every other page shows for the status (``status_badge``).
RAG = {
    Status.MET: "green",
    Status.RUNNING: "green",
    Status.PAUSED: "grey",
    Status.AT_RISK: "amber",
    Status.MISSED_TARGET: "amber",
    Status.BREACHED: "red",
    Status.NO_DATA: "grey",
}


def state_of(status: str) -> State:
    """The red/amber/green state of a period or timer status."""
    badge = status_badge(status)
    return State(RAG.get(status, "grey"), badge.icon, badge.text)


# A breach or alert level is coloured like the status it announces.
LEVEL_RAG = {"warning": "amber", "missed_target": "amber", "breached": "red", "closed": "green"}


def level_state(level: str) -> State:
    """The red/amber/green state of a breach or alert level, in the words of every page."""
    badge = level_badge(level)
    return State(LEVEL_RAG.get(level, "grey"), badge.icon, badge.text)


@dataclass(frozen=True)
class BreachRow:
    """A breach with its level as shown (icon and the one word for it)."""

    breach: Breach
    state: State
    opened: Stamp


def breach_rows(breaches: list[Breach]) -> list[BreachRow]:
    return [
        BreachRow(breach, level_state(breach.level), stamp(breach.opened_at)) for breach in breaches
    ]
