"""Background replays that fail or get lost: shown as errors, queued again only when asked;
the API's format suffix; rows of past days pruned whichever way a replay finished."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from reporting.models import ReplayRun
from reporting.replay import runs
from tests.support.replay import *  # noqa: F403  (fixtures)

pytestmark = pytest.mark.django_db
QUERY = {"version": "2", "periods": "3", "until": "2026-03-31"}


@pytest.fixture
def queued(monkeypatch):
    """Every replay goes to the (recorded, not run) queue."""
    found = []
    monkeypatch.setattr(runs, "INLINE_MS", 0)
    monkeypatch.setattr(runs, "replay_run_enqueue", lambda *args: found.append(args))
    return found


def _api(client, user, agreement, **extra):
    client.force_login(user)
    return client.get(f"/api/agreements/{agreement.pk}/replay/", QUERY | extra)


def test_a_failed_replay_is_shown_and_queued_again_only_when_asked(
    client, counter_proposal, alice_manager, queued
):
    assert _api(client, alice_manager, counter_proposal).status_code == 202
    ReplayRun.objects.update(state="failed", error="division by zero")
    for _ in range(3):  # polls: the failure, never a new run
        response = _api(client, alice_manager, counter_proposal)
        assert response.status_code == 409
        assert "division by zero" in response.json()["replay"][0]
    assert len(queued) == 1
    url = reverse("reporting:agreement-replay", args=[counter_proposal.pk])
    panel = client.get(url, QUERY, HTTP_HX_REQUEST="true").content.decode()
    assert "division by zero" in panel and "every 1s" not in panel
    assert 'id="replay-retry"' in panel and "retry=1" in panel
    assert len(queued) == 1

    again = client.get(url, QUERY | {"retry": "1"}, HTTP_HX_REQUEST="true").content.decode()
    assert len(queued) == 2 and ReplayRun.objects.get().state == "queued"
    # The progress bar polls without retry: a second failure is shown, not retried.
    assert "every 1s" in again and "retry=1" not in again
    ReplayRun.objects.update(state="failed", error="again")
    assert _api(client, alice_manager, counter_proposal).status_code == 409
    assert _api(client, alice_manager, counter_proposal, retry="1").status_code == 202
    assert len(queued) == 3


def test_a_replay_nobody_works_on_fails_after_the_timeout(
    client, counter_proposal, alice_manager, queued
):
    assert _api(client, alice_manager, counter_proposal).status_code == 202
    ReplayRun.objects.update(state="running", created_at=timezone.now() - timedelta(minutes=14))
    assert _api(client, alice_manager, counter_proposal).status_code == 202
    ReplayRun.objects.update(created_at=timezone.now() - runs.RUN_TIMEOUT - timedelta(seconds=1))
    response = _api(client, alice_manager, counter_proposal)
    assert response.status_code == 409
    assert "worker did not answer" in response.json()["replay"][0]
    assert ReplayRun.objects.get().state == "failed" and len(queued) == 1


def test_the_api_answers_with_a_format_suffix(client, counter_proposal, alice_manager):
    client.force_login(alice_manager)
    response = client.get(f"/api/agreements/{counter_proposal.pk}/replay.json", QUERY)
    assert response.status_code == 200, response.content
    assert response.json()["periods"] == 3


def test_new_history_gives_a_new_replay(client, counter_proposal, alice_manager, services):
    """Replayed once (January met); then a five-hour outage of 20 January arrives: the
    next replay is computed again on it, not answered from the morning's result."""
    from datetime import UTC, datetime

    from monitoring.models import Outage, Source

    first = _api(client, alice_manager, counter_proposal).json()
    assert (
        next(t for t in first["proposed"]["targets"] if t["metric"] == "availability")["periods"][
            0
        ]["status"]
        == "met"
    )
    again = _api(client, alice_manager, counter_proposal).json()
    assert again["computed_at"] == first["computed_at"]  # nothing new: the cached one
    down = datetime(2026, 1, 20, 8, 0, tzinfo=UTC)
    Outage.objects.create(
        service=services["portal"],
        source=Source.objects.get(name="Portal monitor"),
        started_at=down,
        ended_at=down + timedelta(hours=5),
    )
    after = _api(client, alice_manager, counter_proposal).json()
    availability = next(t for t in after["proposed"]["targets"] if t["metric"] == "availability")
    assert availability["periods"][0]["status"] in {"missed_target", "breached"}
    current = next(t for t in after["current"]["targets"] if t["metric"] == "availability")
    assert current["periods"][0]["status"] in {"missed_target", "breached"}


def test_a_period_still_in_its_grace_is_not_judged_closed(
    client, counter_proposal, alice_manager, monkeypatch
):
    """Periods close as the evaluation closes them (``closes_at``): one whose grace (a CSAT
    period's late ratings) is still running is replayed open, and says so."""
    from monitoring.evaluation import replay as engine_replay

    seen = []
    real_measure = engine_replay.measure

    def measure(*args, **kwargs):
        seen.append((args[2].metric, args[6]))
        return real_measure(*args, **kwargs)

    monkeypatch.setattr(
        engine_replay,
        "closes_at",
        lambda metric, end: end + timedelta(days=3650) if metric == "availability" else end,
    )
    monkeypatch.setattr(engine_replay, "measure", measure)
    replay = _api(client, alice_manager, counter_proposal).json()
    for target in replay["proposed"]["targets"]:
        closed = {p["closed"] for p in target["periods"]}
        assert closed == {target["metric"] != "availability"}, target["key"]
    assert ("availability", False) in seen and all(
        closed for metric, closed in seen if metric != "availability"
    )
