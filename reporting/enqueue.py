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
