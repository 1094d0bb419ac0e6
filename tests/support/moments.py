"""A fixed "now" for tests whose data sits relative to the current period."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

# A Wednesday in the middle of a month, inside the fixture agreements' terms (2026-2027).
MID_MONTH = datetime(2026, 11, 18, 10, 0, tzinfo=UTC)


@pytest.fixture
def mid_month(time_machine) -> datetime:
    """Run the test from 18 November 2026, 10:00 UTC, with the clock ticking on.

    Pages and dashboards show the period that holds "now". Data placed hours or days before
    now lands in that period only when now is far enough into it; on the 1st of a month,
    "three days ago" is last month. Request this fixture before the ones that create data.
    """
    time_machine.move_to(MID_MONTH, tick=True)
    return MID_MONTH


__all__ = ["mid_month"]
