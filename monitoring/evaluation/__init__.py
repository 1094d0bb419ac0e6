"""The evaluation engine: data in, verdicts and alerts out (``docs/evaluation.md``).

* ``tickets``: per-ticket timers for response and resolution targets, recomputed for every
  ticket marked for evaluation (``Ticket.evaluated_at`` is NULL), in batches locked with
  ``SKIP LOCKED`` so concurrent workers share the work without overlap.
* ``deadlines``: the loop that claims timers whose ``next_due`` has come and marks their
  tickets for evaluation again.
* ``periods``: per-period results of every measured target, closed and frozen at period end.
* ``alerts``: breach records, alerts raised once per subject and level, the escalation matrix
  and the daily digest.
* ``trigger``: what ingest calls after commit to ask for an evaluation.
"""
