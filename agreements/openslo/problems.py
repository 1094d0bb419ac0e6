"""What reading a file reports: errors (nothing is imported) and notes (rule-based changes)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One reason the file cannot be imported, located like a validator would: the object's
    index in the file (0-based, objects of list documents counted one by one), its kind and
    name, and the path inside it (``spec.objectives[0].target``)."""

    index: int | None
    kind: str
    name: str
    path: str
    reason: str

    def as_dict(self) -> dict:
        return {
            "document": self.index,
            "kind": self.kind,
            "name": self.name,
            "path": self.path,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Note:
    """A value the import changed or left out by a stated rule (never silently)."""

    index: int | None
    name: str
    path: str
    rule: str
    message: str

    def as_dict(self) -> dict:
        return {
            "document": self.index,
            "name": self.name,
            "path": self.path,
            "rule": self.rule,
            "message": self.message,
        }
