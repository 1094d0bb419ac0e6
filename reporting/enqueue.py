"""Queue the reporting app's Celery tasks by name.

Domain code (``reporting.recompute``) queues the next step of a run without importing
``reporting.tasks``, which imports it: the task is found by its registered name, the one
the worker knows it by.
"""

from __future__ import annotations

from celery import current_app

RECOMPUTE_RUN = "reporting.recompute_run"


def recompute_run_enqueue(run_id: int) -> None:
    """Queue one step of recompute run ``run_id`` (``reporting.tasks.recompute_run``)."""
    current_app.send_task(RECOMPUTE_RUN, args=[run_id])


REPLAY_RUN = "reporting.replay_run"


def replay_run_enqueue(
    agreement_id: int, snapshot: dict, label: str, source: str, periods: int, until: str, key: str
) -> None:
    """Queue a replay too large to answer in the request (``reporting.tasks.replay_run``)."""
    current_app.send_task(
        REPLAY_RUN, args=[agreement_id, snapshot, label, source, periods, until, key]
    )


REPLAY_UPLOAD = "reporting.replay_upload"


def replay_upload_enqueue(
    agreement_id: int, snapshot: dict, label: str, asked: list, export: list, key: str
) -> None:
    """Queue a replay on an uploaded export (``reporting.tasks.replay_upload``)."""
    current_app.send_task(REPLAY_UPLOAD, args=[agreement_id, snapshot, label, asked, export, key])
