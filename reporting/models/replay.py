"""Replays of proposed targets on history: their progress and, once done, their result.

A row per content key (``reporting.replay.runs.replay_key``: the replayed terms' hash, the
version in force, the periods and the day, and for an upload the file's hash), so asking again
for the same replay finds it, while it runs (its progress) or after (its result). Rows live in
the database, not the cache, so a worker in another process and the page polling it agree
whatever cache the deployment has; rows older than two days are pruned when a replay starts.
"""

from __future__ import annotations

from django.db import models

from sla_portal.core.scoping import ScopedManager


class ReplayRun(models.Model):
    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    key = models.CharField(max_length=80, unique=True)
    agreement = models.ForeignKey(
        "agreements.Agreement", on_delete=models.CASCADE, related_name="+"
    )
    state = models.CharField(max_length=8, choices=State.choices, default=State.QUEUED)
    done = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=1)
    error = models.TextField(blank=True)
    result = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(db_index=True)

    scope_paths = ("agreement__customer",)
    objects = ScopedManager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.key} ({self.state})"
