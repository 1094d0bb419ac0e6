"""OpenSLO (and Sloth) documents in and out of an agreement's targets, as plain values.

No Django here: :func:`read_targets` turns YAML text into target specs (the same
:class:`agreements.smart.TargetSpec` the editor checks) with every error located by document
and path, and every rule-based reinterpretation listed; :func:`write_openslo` turns target
specs back into OpenSLO v1 YAML that reads back to the same specs. The service
``agreements.services.openslo`` matches them to an agreement and writes them.
"""

from agreements.openslo.exporting import ExportedTarget, write_openslo
from agreements.openslo.importing import read_targets
from agreements.openslo.problems import Note, Problem
from agreements.openslo.results import ImportedTarget, ObjectSummary, Reading

__all__ = [
    "ExportedTarget",
    "ImportedTarget",
    "Note",
    "ObjectSummary",
    "Problem",
    "Reading",
    "read_targets",
    "write_openslo",
]
