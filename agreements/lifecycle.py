"""The agreement lifecycle as an explicit state machine (pure: no Django import).

    draft ──propose──► in negotiation ──(both sides accept one version)──► agreed
                          ▲    │  request changes / counter-propose            │ all sign
                          └────┘                                               ▼
    terminated ◄─terminate─ under review ◄─start review─ active ◄─activate (effective date)
                             │  continue ───────────────────▲  ▲
                             └─ renegotiate ─► renegotiating ──┘ (new version signed)
    active / under review / renegotiating ──expire (end date)──► expired

Each action says from which states it may run and who may run it. ``check`` answers with the
target state or raises ``TransitionError`` with a sentence a person can act on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

DRAFT = "draft"
IN_NEGOTIATION = "in_negotiation"
AGREED = "agreed"
ACTIVE = "active"
UNDER_REVIEW = "under_review"
RENEGOTIATING = "renegotiating"
TERMINATED = "terminated"
EXPIRED = "expired"

# Who acts: the provider's service managers (and admins), the customer's approvers, or the
# scheduler acting on dates.
MANAGER = "manager"
APPROVER = "approver"
SIGNATORY = "signatory"
SYSTEM = "system"

STATE_LABELS = {
    DRAFT: "Draft",
    IN_NEGOTIATION: "In negotiation",
    AGREED: "Agreed (awaiting signatures)",
    ACTIVE: "Active",
    UNDER_REVIEW: "Under review",
    RENEGOTIATING: "Renegotiating",
    TERMINATED: "Terminated",
    EXPIRED: "Expired",
}
# Not a stored state: an agreed version every signatory has signed, whose effective date is
# still to come. The agreement stays ``agreed`` in the database (the scheduler activates it on
# the date), but it is no longer awaiting anything from anyone, and must not say so.
SIGNED = "signed"


def status_label(state: str, *, signed: bool = False, effective_from: date | None = None) -> str:
    """How a state reads to people, everywhere it is shown (pages, lists, PDF, API, emails).

    ``signed`` says every signatory signed the agreed version; while its effective date is to
    come it reads "Signed, takes effect on 1 Mar 2027" rather than "awaiting signatures"."""
    if state == AGREED and signed:
        if effective_from is None:
            return "Signed, takes effect on its effective date"
        return f"Signed, takes effect on {effective_from.day} {effective_from:%b %Y}"
    return STATE_LABELS.get(state, state)


def display_state(state: str, *, signed: bool = False) -> str:
    """The state as shown: ``signed`` for an agreed agreement every signatory has signed."""
    return SIGNED if state == AGREED and signed else state


@dataclass(frozen=True)
class Action:
    name: str
    label: str
    sources: frozenset[str]
    # None: the state does not change (the action records something within the state).
    target: str | None
    actors: frozenset[str]
    # Exceptions to ``target`` for particular source states.
    moves: tuple[tuple[str, str], ...] = ()


ACTIONS: dict[str, Action] = {
    action.name: action
    for action in (
        Action(
            "propose",
            "Send proposal",
            frozenset({DRAFT, IN_NEGOTIATION, RENEGOTIATING}),
            None,
            frozenset({MANAGER}),
            moves=((DRAFT, IN_NEGOTIATION),),
        ),
        Action(
            "request_changes",
            "Request changes",
            frozenset({IN_NEGOTIATION, RENEGOTIATING}),
            None,
            frozenset({APPROVER}),
        ),
        # Only the customer accepts: every version is the provider's proposal, and sending
        # it was the provider's acceptance. Offering the proposer "Accept" of its own offer
        # invited a meaningless click.
        Action(
            "accept",
            "Accept this version",
            frozenset({IN_NEGOTIATION, RENEGOTIATING}),
            None,
            frozenset({APPROVER}),
        ),
        Action("sign", "Sign", frozenset({AGREED, RENEGOTIATING}), None, frozenset({SIGNATORY})),
        Action("activate", "Activate", frozenset({AGREED}), ACTIVE, frozenset({SYSTEM})),
        Action(
            "start_review",
            "Start review",
            frozenset({ACTIVE}),
            UNDER_REVIEW,
            frozenset({MANAGER, SYSTEM}),
        ),
        Action(
            "continue",
            "Continue as agreed",
            frozenset({UNDER_REVIEW}),
            ACTIVE,
            frozenset({MANAGER}),
        ),
        Action(
            "renegotiate",
            "Renegotiate",
            frozenset({UNDER_REVIEW}),
            RENEGOTIATING,
            frozenset({MANAGER}),
        ),
        Action(
            "terminate", "Terminate", frozenset({UNDER_REVIEW}), TERMINATED, frozenset({MANAGER})
        ),
        Action(
            "expire",
            "Expire",
            frozenset({ACTIVE, UNDER_REVIEW, RENEGOTIATING}),
            EXPIRED,
            frozenset({SYSTEM}),
        ),
    )
}

# The five stages shown on every agreement, and which states belong to each.
STAGES = ("negotiate", "finalize", "monitor", "report", "review")
STAGE_OF_STATE = {
    DRAFT: "negotiate",
    IN_NEGOTIATION: "negotiate",
    RENEGOTIATING: "negotiate",
    AGREED: "finalize",
    ACTIVE: "monitor",
    UNDER_REVIEW: "review",
    TERMINATED: "review",
    EXPIRED: "review",
}
# States in which the working copy of the agreement may be edited by the provider.
EDITABLE_STATES = frozenset({DRAFT, IN_NEGOTIATION, RENEGOTIATING})
# States in which the agreement is in force and monitored.
IN_FORCE_STATES = frozenset({ACTIVE, UNDER_REVIEW, RENEGOTIATING})


class TransitionError(Exception):
    """The action is not allowed; the message says why in the user's terms."""


class NotYourStep(TransitionError):
    """The action is not this person's to take (their role or side): a 403, not a 409."""


def check(action_name: str, state: str, actors: set[str]) -> str:
    """The state after ``action_name`` from ``state`` by someone acting as ``actors``.

    Raises ``TransitionError`` when the action is unknown, not allowed in this state, or not
    allowed for this person."""
    action = ACTIONS.get(action_name)
    if action is None:
        raise TransitionError(f"'{action_name}' is not an action of an agreement.")
    if state not in action.sources:
        allowed = ", ".join(STATE_LABELS[s].lower() for s in sorted(action.sources))
        raise TransitionError(
            f"Cannot {action.label.lower()}: the agreement is {STATE_LABELS[state].lower()}; "
            f"this is possible only when it is {allowed}."
        )
    if not actors & action.actors:
        who = " or ".join(sorted(_actor_words(action.actors)))
        raise NotYourStep(f"Only {who} may {action.label.lower()}.")
    return dict(action.moves).get(state) or action.target or state


def available(state: str, actors: set[str]) -> list[Action]:
    """The actions this person could take now (buttons to show)."""
    return [
        action
        for action in ACTIONS.values()
        if state in action.sources and actors & action.actors and SYSTEM not in actors
    ]


def _actor_words(actors: frozenset[str]) -> set[str]:
    words = {
        MANAGER: "a service manager of the provider",
        APPROVER: "a customer approver",
        SIGNATORY: "a named signatory",
        SYSTEM: "the scheduler",
    }
    return {words[a] for a in actors}
