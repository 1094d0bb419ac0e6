"""The dashboards print times formatted once in Python (``reporting.selectors.stamps``),
in place of the template's ``date`` filter: the text must be the filter's, to the letter."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from django.template.defaultfilters import date
from django.utils import timezone

from reporting.selectors.stamps import stamp

MOMENTS = [
    datetime(2026, 1, 5, 3, 4, 5, 123456, tzinfo=UTC),
    datetime(2026, 3, 29, 1, 30, tzinfo=UTC),  # the night Europe/Berlin goes to summer time
    datetime(2026, 7, 15, 23, 59, tzinfo=UTC),
    datetime(2026, 12, 31, 0, 0, tzinfo=UTC),
]


@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata"])
def test_stamps_read_like_the_date_filter(zone):
    with timezone.override(ZoneInfo(zone)):
        for moment in MOMENTS:
            local = timezone.localtime(moment)
            printed = stamp(moment)
            assert printed.iso == date(local, "c")
            assert printed.short == date(local, "j M H:i")
            assert printed.dated == date(local, "j M Y H:i")
            assert printed.full == date(local, "j M Y H:i T")
