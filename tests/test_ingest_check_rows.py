"""The common check row is recognised without the general parsers; for every row the answer
(values, or the field and reason refused) is the general parsers' own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitoring.ingest.fields import FieldError
from monitoring.ingest.uptime import _clean_check, _clean_check_general

BERLIN = ZoneInfo("Europe/Berlin")


def outcome(parse, row, zone):
    try:
        return parse(row, zone)
    except FieldError as exc:
        return ("refused", exc.args)


moments = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2030, 1, 1))
offsets = st.sampled_from([None, UTC, timezone(timedelta(hours=2)), timezone(-timedelta(hours=5))])


@st.composite
def stamps(draw):
    moment = draw(moments)
    offset = draw(offsets)
    text = (moment.replace(tzinfo=offset) if offset else moment).isoformat()
    form = draw(st.sampled_from(["plain", "z", "space", "date", "garbage"]))
    if form == "z" and offset is UTC:
        text = text.replace("+00:00", "Z")
    elif form == "space":
        text = f" {text} "
    elif form == "date":
        text = moment.date().isoformat()
    elif form == "garbage":
        text = text[:7] + "x"
    return draw(st.sampled_from([text, text, None, "", 17, moment.replace(tzinfo=UTC)]))


statuses = st.sampled_from(
    ["up", "down", "maintenance", "UP", " down", "sideways", "", None, 1, "up\x00"]
)
responses = st.one_of(
    st.none(),
    st.integers(min_value=-5, max_value=10**6),
    st.sampled_from([True, False, "12", " 7 ", "-3", "x", 1.5, ""]),
)


@given(
    checked_at=stamps(),
    status=statuses,
    response_ms=responses,
    zone=st.sampled_from([None, BERLIN]),
    drop=st.sampled_from([None, "checked_at", "status", "response_ms"]),
)
def test_the_common_shape_is_read_exactly_as_the_general_parsers_read_it(
    checked_at, status, response_ms, zone, drop
):
    row = {"checked_at": checked_at, "status": status, "response_ms": response_ms}
    if drop:
        del row[drop]
    assert outcome(_clean_check, row, zone) == outcome(_clean_check_general, row, zone)


@pytest.mark.parametrize(
    "row",
    [
        {"checked_at": "2026-03-02T09:00:00Z", "status": "up", "response_ms": 182},
        {"checked_at": "2026-03-02T09:00:00+00:00", "status": "down", "response_ms": None},
        {"checked_at": "2026-03-02T09:00:00.123456Z", "status": "maintenance"},
    ],
)
def test_common_rows_take_the_short_way_and_give_utc(row, monkeypatch):
    import monitoring.ingest.uptime as uptime

    monkeypatch.setattr(uptime, "_clean_check_general", None)  # would fail if called
    checked_at, status, response_ms = _clean_check(row, None)
    assert checked_at.tzinfo is UTC and status == row["status"]
    assert response_ms == row.get("response_ms")
