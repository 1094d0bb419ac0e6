"""The pure arithmetic of a replay: tallies, credits per month and the summary sentences."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from reporting.credits import Band, Schedule
from reporting.replay.arithmetic import (
    PeriodLine,
    TargetLine,
    metric_amount,
    month_credits,
    sentences,
    total_amount,
)

SCHEDULE = Schedule(
    bands=(
        Band("availability", Decimal("99.95"), Decimal("3")),
        Band("availability", Decimal("99.9"), Decimal("5")),
        Band("response_time", Decimal("95"), Decimal("4")),
    ),
    cap_percent=Decimal("6"),
    fee_amount=Decimal("36000"),
    fee_period="quarter",
    currency="EUR",
)
# The terms in force credit availability below 99.9 % only.
IN_FORCE = Schedule(
    bands=(Band("availability", Decimal("99.9"), Decimal("5")),),
    cap_percent=Decimal("6"),
    fee_amount=Decimal("36000"),
    fee_period="quarter",
    currency="EUR",
)


def line(key, metric, goal, values, statuses, unit="percent", within="") -> TargetLine:
    months = ["2026-01", "2026-02", "2026-03"]
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    return TargetLine(
        key=key,
        label=key.capitalize(),
        metric=metric,
        period="month",
        goal_target=goal,
        goal_threshold=goal - 0.5,
        value_unit=unit,
        periods=tuple(
            PeriodLine(moment, moment, month, value, status)
            for month, value, status in zip(months, values, statuses, strict=True)
        ),
        within=within,
    )


AVAILABILITY = line(
    "availability",
    "availability",
    99.95,
    [100.0, 99.926, 99.3],
    ["met", "missed_target", "breached"],
)
RESPONSE = line(
    "response", "response_time", 95, [90.0, None, 100.0], ["missed_target", "no_data", "met"],
    within="15 minutes",
)  # fmt: skip


def test_tally_counts_breaches_among_the_misses():
    assert AVAILABILITY.tally() == {
        "periods": 3,
        "met": 1,
        "missed": 2,
        "breached": 1,
        "no_data": 0,
    }
    assert RESPONSE.tally()["no_data"] == 1


def test_credits_per_month_take_the_highest_band_and_the_cap():
    credits = month_credits(SCHEDULE, [AVAILABILITY, RESPONSE])
    # A quarter's fee of 36,000 is 12,000 a month. January: response 90 < 95 (4 %);
    # February: 99.926 < 99.95 (3 %); March: 99.3 matches 3 and 5 %, 5 % applies.
    assert {month: c.percent for month, c in credits.items()} == {
        "2026-01": Decimal("4"),
        "2026-02": Decimal("3"),
        "2026-03": Decimal("5"),
    }
    assert total_amount(credits) == Decimal("1440.00")
    assert metric_amount(credits, "availability") == Decimal("960.00")


def test_the_cap_holds_a_months_total():
    both_bad = line("response", "response_time", 95, [90.0, 90.0, 90.0], ["missed_target"] * 3)
    credits = month_credits(SCHEDULE, [AVAILABILITY, both_bad])
    assert credits["2026-03"].percent == Decimal("6") and credits["2026-03"].capped


def test_sentences_put_the_current_terms_beside_the_proposal():
    current = line(
        "availability", "availability", 99.9, [100.0, 99.926, 99.3], ["met", "met", "breached"]
    )
    found = sentences(
        [AVAILABILITY, RESPONSE],
        month_credits(SCHEDULE, [AVAILABILITY, RESPONSE]),
        [current],
        month_credits(IN_FORCE, [current]),
        "EUR",
    )
    assert found[0] == (
        "Availability: 99.95 % would have been missed in 2 (1 beyond the threshold) of the last "
        "3 months and cost 960.00 EUR in credits; 99.9 % in 1 (1 beyond the threshold), "
        "cost 600.00 EUR."
    )
    assert found[1] == (
        "Response: 95 % within 15 minutes would have been missed in 1 of the last 3 months "
        "and cost 480.00 EUR in credits (1 without data); "
        "the agreement in force has no such target."
    )
    assert found[2] == (
        "The proposed credit schedule would have paid 1,440.00 EUR over the 3 months "
        "replayed; the terms in force 600.00 EUR."
    )


def test_targets_without_history_are_named_once():
    blind = line("errors", "error_count", 2, [None] * 3, ["no_data"] * 3, unit="count")
    found = sentences([blind], month_credits(SCHEDULE, [blind]), None, None, "EUR")
    assert found == [
        "No history to judge 1 target on (no data in any period replayed): Errors.",
        "The proposed credit schedule would have paid 0.00 EUR over the 3 months replayed.",
    ]
    assert blind.goal_text == "2 errors"


def test_each_sides_credits_are_in_its_own_currency():
    current = line(
        "availability", "availability", 99.9, [100.0, 99.926, 99.3], ["met", "met", "breached"]
    )
    found = sentences(
        [AVAILABILITY],
        month_credits(SCHEDULE, [AVAILABILITY]),
        [current],
        month_credits(IN_FORCE, [current]),
        "EUR",
        months=3,
        current_currency="CHF",
    )
    assert found[0].endswith("99.9 % in 1 (1 beyond the threshold), cost 600.00 CHF.")
    assert "960.00 EUR" in found[0]
    assert found[-1].endswith("; the terms in force 600.00 CHF.")
