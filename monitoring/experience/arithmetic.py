"""Experience figures as plain arithmetic (no Django): CSAT, NPS and the minimum sample.

* **CSAT** of a period is the mean of the 1-5 ratings counted in it.
* **NPS** is the share of promoters (9-10) minus the share of detractors (0-6), in points
  from -100 to 100; passives (7-8) count in the total only.
* A period gets a verdict only once it has at least ``min_responses`` responses; below that
  its status is ``no_data`` with the reason "not enough responses", never met or missed.
  A small sample says little: two unhappy answers out of three are not a trend.

The verdict otherwise follows the target and threshold like every other target
(``monitoring.compliance.Goal``). An open period's figure can still move either way, so it
is final only once the period is closed.
"""

from __future__ import annotations

from collections.abc import Sequence

from monitoring.compliance.states import NO_DATA
from monitoring.compliance.verdicts import Goal, Verdict

CSAT_RANGE = (1, 5)
NPS_RANGE = (0, 10)
PROMOTER_FROM = 9
DETRACTOR_UP_TO = 6
# Answers at or below this CSAT rating are "low": their comments explain a low figure.
LOW_CSAT = 2
LOW_NPS = DETRACTOR_UP_TO


def csat_mean(ratings: Sequence[int]) -> float | None:
    """The mean of 1-5 ratings; ``None`` without any."""
    if not ratings:
        return None
    for rating in ratings:
        if not CSAT_RANGE[0] <= rating <= CSAT_RANGE[1]:
            raise ValueError(f"a CSAT rating is 1 to 5, not {rating}")
    return sum(ratings) / len(ratings)


def nps_score(scores: Sequence[int]) -> float | None:
    """Promoters% minus detractors% of 0-10 answers, -100..100; ``None`` without any."""
    if not scores:
        return None
    for score in scores:
        if not NPS_RANGE[0] <= score <= NPS_RANGE[1]:
            raise ValueError(f"an NPS answer is 0 to 10, not {score}")
    promoters = sum(1 for s in scores if s >= PROMOTER_FROM)
    detractors = sum(1 for s in scores if s <= DETRACTOR_UP_TO)
    return (promoters - detractors) * 100 / len(scores)


def is_low(metric: str, score: int) -> bool:
    """Whether one answer is a low one (a CSAT of 1-2, an NPS detractor of 0-6)."""
    return score <= (LOW_CSAT if metric == "csat" else LOW_NPS)


def enough_responses(count: int, min_responses: int | None) -> bool:
    """The minimum-sample rule: at least ``min_responses`` (and at least one) responses."""
    return count >= max(1, min_responses or 1)


def experience_verdict(
    metric: str, scores: Sequence[int], goal: Goal, min_responses: int | None, closed: bool
) -> Verdict:
    """The verdict of a CSAT or NPS target over the answers of one period.

    ``details`` always holds ``responses`` (the count) and ``min_responses``; for NPS also
    the promoters, passives and detractors."""
    count = len(scores)
    details: dict = {"responses": count, "min_responses": max(1, min_responses or 1)}
    value = csat_mean(scores) if metric == "csat" else nps_score(scores)
    if metric == "nps":
        details["promoters"] = sum(1 for s in scores if s >= PROMOTER_FROM)
        details["detractors"] = sum(1 for s in scores if s <= DETRACTOR_UP_TO)
        details["passives"] = count - details["promoters"] - details["detractors"]
    if not enough_responses(count, min_responses):
        needed = details["min_responses"]
        details["not_enough_responses"] = True
        details["reason"] = f"Not enough responses: {count} of the {needed} needed for a verdict."
        # The figure so far is kept for information; it decides nothing.
        details["provisional_value"] = value
        return Verdict(None, NO_DATA, closed, details)
    assert value is not None
    # An open period's mean can still move either way (like ``value_verdict``): a miss
    # warns while the period runs and is final once it closes.
    return Verdict(value, goal.status(value), closed, details)
