"""Compliance arithmetic: ticket timers, measurement periods and per-period verdicts.

One module per area: ``states`` (the statuses and the tolerance every comparison uses),
``timers`` (a ticket's clock), ``periods`` (month, quarter, year bounds), ``verdicts`` (a
period's value against its target and threshold) and ``budgets`` (the period's error budget:
what may still go wrong before the target and the threshold, and when it ran out).

Pure functions over plain values (datetimes, floats, lists) and a
:class:`~agreements.clock.BusinessCalendar`; no Django. The evaluation services feed them from
the database and store what they return, so every figure a customer sees comes from here and
is tested here (``docs/evaluation.md`` has the long form of every rule).

Statuses, from good to bad: ``met``, ``at_risk`` (the trajectory misses the target),
``missed_target`` (worse than the target, within the threshold) and ``breached`` (worse than
the threshold of unacceptable service); ``no_data`` when nothing was measured.
"""
