"""Recompute on demand: measure an agreement's tickets and periods again after a correction.

Why: timers and periods are computed once from what was known then. When that changes after
the fact (the ``holidays`` package learned a public holiday, a source re-sent corrected
tickets or checks), a provider manager asks for a recompute of one agreement, of every
agreement measured in a calendar, or of one source's tickets (``docs/recompute.md``).

How: a ``RecomputeRun`` row holds the scope, the reason, the progress and where to resume.
``recompute_step`` (``reporting.recompute.steps``) does one bounded step in one transaction
(``TICKET_STEP`` tickets, or the periods of one agreement) with the run row locked, and the
Celery task re-queues itself until the run is done. A worker that dies mid-step loses nothing:
the step rolls back, the task is redelivered (``acks_late``) and starts again from the stored
cursor; a second delivery waits for the lock and then finds the cursor moved on.

The engine is called only through its public entry points (``evaluate_tickets``,
``evaluate_agreement_periods``, ``measure``), so it can change inside without this module.

Rules:

* Open periods and ticket timers are recomputed in place.
* Closed periods are frozen (a database trigger refuses changes). What they would say now is a
  ``PeriodCorrection`` proposal (old → new value and status); nothing changes until a manager
  applies them (``reporting.recompute.apply``): reports then take the new figures, and every issued
  report of an affected month gets a correction revision that lists what changed and why.
* Alerts: levels already raised are never raised again (the engine's rule). Alerts a recompute
  raises about ticket targets are about the past: they are recorded quietly (no email) and
  counted in the run's summary. Open periods are the present and alert as usual.
"""
