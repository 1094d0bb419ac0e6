"""One periodic pass over every monitored agreement's periods at a time.

Beat starts ``monitoring.evaluate_periods`` every minute, and a pass that does not finish
its first slice queues the next slice (``PERIODS_MAX_AGREEMENTS_PER_RUN`` agreements each).
When a pass took longer than a minute, beat's next start used to begin a second chain
beside it, and chains piled up on a busy worker. The pass is recorded in the
``EvaluationRequest`` row named ``evaluate_periods``: ``sequence`` numbers the pass,
``queued_at`` says it is in progress (refreshed by each slice). Beat's start is skipped
while a pass is in progress; a slice of a pass that is no longer the current one does
nothing; a pass whose slice was lost (expired, purged) is taken as over after
``LOST_AFTER``, and beat starts the next.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import F, Q

from monitoring.models import EvaluationRequest

NAME = "evaluate_periods"
# A pass whose last slice started longer ago than this was lost: beat starts another.
LOST_AFTER = timedelta(minutes=5)
# A queued slice that waited longer than this is dropped by the worker (the pass is then
# lost, and beat starts the next after ``LOST_AFTER``).
SLICE_EXPIRES = 120  # seconds


def start_pass(now: datetime) -> int | None:
    """The number of a new pass, or ``None`` while another is in progress."""
    EvaluationRequest.objects.get_or_create(name=NAME)
    started = (
        EvaluationRequest.objects.filter(name=NAME)
        .filter(Q(queued_at__isnull=True) | Q(queued_at__lt=now - LOST_AFTER))
        .update(queued_at=now, sequence=F("sequence") + 1)
    )
    if not started:
        return None
    return EvaluationRequest.objects.values_list("sequence", flat=True).get(name=NAME)


def continue_pass(number: int, now: datetime) -> bool:
    """Whether pass ``number`` is still the one in progress; if so it is marked alive."""
    return bool(
        EvaluationRequest.objects.filter(
            name=NAME, sequence=number, queued_at__isnull=False
        ).update(queued_at=now)
    )


def finish_pass(number: int) -> None:
    """Pass ``number`` is over (done, or failed): beat's next start begins a new one."""
    EvaluationRequest.objects.filter(name=NAME, sequence=number).update(queued_at=None)
