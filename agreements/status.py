"""An agreement's status in words, with its badge style: the one place it is put into words,
so the list, the lifecycle pages, the document, the PDF and the API say the same."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from agreements import lifecycle as machine

# Status badges are never colour alone: each has an icon and its word (see portal.css).
STATUS_STYLE = {
    "draft": ("text-bg-secondary", "bi-pencil"),
    "in_negotiation": ("text-bg-info", "bi-chat-left-text"),
    "agreed": ("text-bg-primary", "bi-pen"),
    "signed": ("text-bg-primary", "bi-patch-check"),
    "active": ("text-bg-success", "bi-check-circle"),
    "under_review": ("text-bg-warning", "bi-search"),
    "renegotiating": ("text-bg-warning", "bi-arrow-repeat"),
    "terminated": ("text-bg-dark", "bi-x-circle"),
    "expired": ("text-bg-secondary", "bi-hourglass-bottom"),
}
# Sentences under the status: where the agreement stands and who moves next.
STATUS_NOTES = {
    "agreed": "Both sides accepted the version; it becomes binding when every signatory has "
    "signed.",
    "signed": "Every signatory signed the agreed version. It is binding and takes effect on "
    "{date}; monitoring starts that day.",
}


@dataclass(frozen=True)
class StatusView:
    """An agreement's status as every page, list, PDF and API shows it."""

    key: str  # a stored state, or "signed" (agreed, signed by all, effective date to come)
    label: str
    css: str
    icon: str

    def __str__(self) -> str:
        return self.label


def is_signed(agreement: Any) -> bool:
    """Whether an agreed agreement has a version every signatory signed. Rows loaded through
    ``selectors.agreements_visible_to`` carry the answer; others ask the database once."""
    if agreement.status != machine.AGREED:
        return False
    known = getattr(agreement, "has_final_version", None)
    if known is not None:
        return bool(known)
    return agreement.versions.filter(finalized_at__isnull=False).exists()


def status_of(agreement: Any) -> StatusView:
    """The one place an agreement's status is put into words: "Signed, takes effect on
    1 Mar 2027" once every signatory signed a version whose date is still to come."""
    signed = is_signed(agreement)
    key = machine.display_state(agreement.status, signed=signed)
    css, icon = STATUS_STYLE.get(key, ("text-bg-secondary", "bi-circle"))
    label = machine.status_label(
        agreement.status, signed=signed, effective_from=agreement.effective_from
    )
    return StatusView(key=key, label=label, css=css, icon=icon)
