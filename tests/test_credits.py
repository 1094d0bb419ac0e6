"""Service credits from a credit schedule: hand-computed figures and properties."""

from decimal import Decimal as D

from hypothesis import given
from hypothesis import strategies as st

from reporting.credits import (
    Band,
    Schedule,
    achieved,
    band_for,
    compute_credits,
    schedule_from_snapshot,
)

GOLD_BANDS = (
    Band("availability", D("99.9"), D("5")),
    Band("availability", D("99.5"), D("10")),
    Band("availability", D("99"), D("20")),
    Band("availability", D("98"), D("30")),
)


def gold(**changes) -> Schedule:
    terms = dict(
        bands=GOLD_BANDS,
        cap_percent=D("30"),
        fee_amount=D("12000"),
        fee_period="month",
        currency="EUR",
        exclusions="No credits for downtime caused by the customer.",
    )
    terms.update(changes)
    return Schedule(**terms)


def test_the_band_with_the_highest_credit_below_which_the_value_lies_applies():
    # 98.656 % is below 99.9, 99.5 and 99, not below 98: the 99 band's 20 % applies.
    result = compute_credits(gold(), {"availability": [98.65591397849462]})
    assert [line.percent for line in result.lines] == [D("20")]
    assert result.lines[0].band == GOLD_BANDS[2]
    assert result.percent == D("20")
    assert result.amount == D("2400.00")  # 20 % of 12,000 EUR
    assert result.currency == "EUR"


def test_a_value_meeting_every_band_earns_nothing():
    result = compute_credits(gold(), {"availability": [99.95]})
    assert (result.percent, result.amount) == (D("0"), D("0.00"))
    assert result.lines[0].band is None


def test_a_value_exactly_at_a_band_edge_is_not_below_it_even_with_float_noise():
    # (counted - down) / counted * 100 for downtime exactly at 99.9 % can be 99.89999999999999.
    assert achieved(99.89999999999999) == D("99.900000")
    result = compute_credits(gold(), {"availability": [99.89999999999999]})
    assert result.percent == D("0")
    assert compute_credits(gold(), {"availability": [99.8999]}).percent == D("5")


def test_credits_of_several_metrics_add_up_and_are_capped():
    bands = (*GOLD_BANDS, Band("performance", D("95"), D("15")))
    result = compute_credits(gold(bands=bands), {"availability": [97.0], "performance": [90.0]})
    # 30 % + 15 % = 45 %, capped at 30 %: 3,600 EUR.
    assert result.uncapped_percent == D("45")
    assert (result.percent, result.capped, result.amount) == (D("30"), True, D("3600.00"))
    assert any("capped at 30" in note for note in result.notes)


def test_a_period_without_data_earns_no_credit_and_says_so():
    result = compute_credits(gold(), {"availability": [None]})
    assert result.percent == D("0")
    assert "No data" in result.lines[0].note
    missing = compute_credits(gold(), {})
    assert missing.percent == D("0") and missing.lines[0].achieved is None


def test_the_worst_of_several_results_of_a_metric_is_credited():
    result = compute_credits(gold(), {"availability": [99.95, 99.2, None]})
    assert result.percent == D("10")  # 99.2 is below 99.5, not below 99
    assert result.lines[0].achieved == D("99.2")


def test_the_monthly_fee_comes_from_the_fee_period():
    quarterly = gold(fee_amount=D("30000"), fee_period="quarter")
    assert quarterly.monthly_fee == D("10000.00")
    assert compute_credits(quarterly, {"availability": [99.7]}).amount == D("500.00")
    yearly = gold(fee_amount=D("100000"), fee_period="year")
    assert yearly.monthly_fee == D("8333.33")
    assert compute_credits(yearly, {"availability": [99.7]}).amount == D("416.67")


def test_a_cap_of_zero_grants_no_credit():
    assert compute_credits(gold(cap_percent=D("0")), {"availability": [90.0]}).amount == D("0")


def test_the_schedule_is_read_from_a_version_snapshot():
    snapshot = {
        "sections": {
            "charges": {
                "fields": {
                    "fee_amount": "12000",
                    "fee_period": "month",
                    "currency": "EUR",
                    "credit_cap_percent": "30",
                    "credit_exclusions": "Force majeure.",
                },
                "related": {
                    "credit_bands": [
                        {"metric": "availability", "achieved_below": "99.9", "credit_percent": "5"}
                    ]
                },
            }
        }
    }
    schedule = schedule_from_snapshot(snapshot)
    assert schedule.bands == (Band("availability", D("99.9"), D("5")),)
    assert (schedule.cap_percent, schedule.monthly_fee, schedule.exclusions) == (
        D("30"),
        D("12000.00"),
        "Force majeure.",
    )


values = st.floats(min_value=0, max_value=100, allow_nan=False)
bands = st.lists(
    st.builds(
        Band,
        st.just("availability"),
        st.decimals(min_value=0, max_value=100, places=3),
        st.decimals(min_value=0, max_value=100, places=2),
    ),
    max_size=6,
)


@given(bands, st.decimals(min_value=0, max_value=100, places=2), st.lists(values, max_size=3))
def test_credit_never_exceeds_the_cap(schedule_bands, cap, measured):
    schedule = gold(bands=tuple(schedule_bands), cap_percent=cap)
    result = compute_credits(schedule, {"availability": measured})
    assert D(0) <= result.percent <= cap
    assert result.amount <= (schedule.monthly_fee * cap / 100).quantize(D("0.01")) + D("0.01")


@given(bands, values, values)
def test_a_worse_value_never_earns_less_credit(schedule_bands, a, b):
    worse, better = sorted((a, b))
    schedule = gold(bands=tuple(schedule_bands), cap_percent=D(100))
    low = compute_credits(schedule, {"availability": [worse]})
    high = compute_credits(schedule, {"availability": [better]})
    assert low.percent >= high.percent


@given(bands, values)
def test_the_chosen_band_is_one_the_value_lies_below(schedule_bands, value):
    band = band_for(schedule_bands, achieved(value))
    matching = [b for b in schedule_bands if achieved(value) < b.achieved_below]
    if band is None:
        assert not matching
    else:
        assert band in matching
        assert band.credit_percent == max(b.credit_percent for b in matching)
