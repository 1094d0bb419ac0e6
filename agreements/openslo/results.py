"""What reading a file gives: its objects, the targets, and the notes and problems."""

from __future__ import annotations

from dataclasses import dataclass, field

from agreements.openslo.problems import Note, Problem
from agreements.smart import TargetSpec


@dataclass(frozen=True)
class ImportedTarget:
    """One target read from the file, with where it came from."""

    spec: TargetSpec
    index: int
    source: str  # "SLO 'web-availability', spec.objectives[0]"
    service: str  # the service named in the file ('' none)
    service_is_portal_name: bool  # from the portal's annotation: '' means every service
    calendar: str  # a portal calendar name from the annotation ('' none: 24x7 / inherited)


@dataclass(frozen=True)
class ObjectSummary:
    index: int
    api_version: str
    kind: str
    name: str


@dataclass
class Reading:
    """What a file says: its objects, the targets they give, the rule-based changes, and
    the problems (any problem means nothing may be imported)."""

    objects: list[ObjectSummary] = field(default_factory=list)
    targets: list[ImportedTarget] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems
