"""Outages from uptime checks: the pure rule, checked by example and by property."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitoring.outages import outages_from_checks

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def at(minute: int) -> datetime:
    return T0 + timedelta(minutes=minute)


def checks(statuses: str) -> list[tuple[datetime, str]]:
    """One check a minute: u(p), d(own), m(aintenance)."""
    names = {"u": "up", "d": "down", "m": "maintenance"}
    return [(at(i), names[c]) for i, c in enumerate(statuses)]


def test_consecutive_failures_make_one_outage_until_the_first_success():
    assert outages_from_checks(checks("uuddduu")) == [(at(2), at(5))]


def test_an_outage_still_failing_at_the_end_is_open():
    assert outages_from_checks(checks("udud")) == [(at(1), at(2)), (at(3), None)]


def test_maintenance_neither_starts_nor_ends_an_outage():
    assert outages_from_checks(checks("ummu")) == []
    assert outages_from_checks(checks("udmmdu")) == [(at(1), at(5))]
    assert outages_from_checks(checks("umdmu")) == [(at(2), at(4))]


def test_unsorted_input_is_sorted_first():
    assert outages_from_checks(list(reversed(checks("udu")))) == [(at(1), at(2))]


def test_unknown_status_is_refused():
    with pytest.raises(ValueError, match="unknown check status"):
        outages_from_checks([(T0, "degraded")])


statuses = st.lists(st.sampled_from(["up", "down", "maintenance"]), max_size=60)


@given(statuses)
def test_outages_are_ordered_disjoint_and_bounded_by_checks(sequence):
    series = [(at(i), status) for i, status in enumerate(sequence)]
    outages = outages_from_checks(series)
    by_time = dict(series)
    for (start, end), following in zip(outages, [*outages[1:], None], strict=False):
        assert by_time[start] == "down"
        if end is None:
            assert following is None  # only the last outage can be open
            assert all(s != "up" for t, s in series if t > start)
        else:
            assert start < end and by_time[end] == "up"
            # No success in between, and the end is the first one.
            assert all(s != "up" for t, s in series if start < t < end)
        if following is not None:
            assert end is not None and end < following[0]


@given(statuses)
def test_every_down_check_lies_in_an_outage_and_no_up_check_does(sequence):
    series = [(at(i), status) for i, status in enumerate(sequence)]
    outages = outages_from_checks(series)

    def inside(moment: datetime) -> bool:
        return any(start <= moment and (end is None or moment < end) for start, end in outages)

    for moment, status in series:
        if status == "down":
            assert inside(moment)
        if status == "up":
            assert not inside(moment)


@given(statuses, st.integers(min_value=0, max_value=59))
def test_recomputing_from_a_success_onwards_gives_the_same_outages(sequence, cut):
    """Why the ingest may recompute only from the last success before a batch: an up check
    seen by both halves splits the timeline without changing its outages."""
    series = [(at(i), status) for i, status in enumerate(sequence)]
    if cut >= len(series) or series[cut][1] != "up":
        return
    split = outages_from_checks(series[: cut + 1]) + outages_from_checks(series[cut:])
    assert split == outages_from_checks(series)
