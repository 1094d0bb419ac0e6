"""Queue monitoring's Celery tasks by name, so the code that asks for work never imports
``monitoring.tasks``.

``monitoring.tasks`` holds thin entry points over the engine, the importers and the probe; it
imports them, and they must not import it back (the engine, the ingest and the import jobs ask
for a task through :func:`enqueue`). A task is named by its registered name (``name=`` on
``shared_task``). When this process has registered the task (a worker, or any process that
imported ``monitoring.tasks``), it is queued through the task object, with its own options;
otherwise the same message is sent by name. Callers queue after their commit, as before.
"""

from __future__ import annotations

from typing import Any

from celery import current_app

EVALUATE_CHANGED = "monitoring.evaluate_changed"
RUN_IMPORT_JOB = "monitoring.run_import_job"


def enqueue(name: str, *args: Any) -> None:
    """Queue task ``name`` with positional ``args``; the broker's errors reach the caller."""
    task = current_app.tasks.get(name)
    if task is not None:
        task.delay(*args)
    else:
        current_app.send_task(name, args=args)
