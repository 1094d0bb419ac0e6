"""Sources whose data stops: stale after the expected interval, no verdict for months nobody
measured, "no data since …" on the dashboards, and the provider told once per episode.

The pure rules (``monitoring.silence`` and the ``unmeasured`` part of
``compliance.availability_verdict``) first; then an imported history that ends in August,
evaluated month by month through November, the way the beat task would."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from agreements.clock import BusinessCalendar
from monitoring.compliance.verdicts import Goal, availability_verdict
from monitoring.evaluation.periods import evaluate_periods
from monitoring.ingest.uptime import checks_ingest
from monitoring.models import Alert, Breach, PeriodResult, Source
from monitoring.silence import (
    Feed,
    clip_open_outages,
    expected_interval,
    is_stale,
    service_silence,
    stale_from,
)
from monitoring.staleness import check_stale_sources
from sla_portal.core.models import Notification

MINUTE = timedelta(minutes=1)
DAY = 86400


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# --- The pure rules ----------------------------------------------------------------------------

DEFAULTS = {"default": 15, "servicenow": 1440}


def test_expected_interval_comes_from_the_source_then_its_kind():
    assert expected_interval("api", None, DEFAULTS) == timedelta(minutes=15)
    assert expected_interval("servicenow", None, DEFAULTS) == timedelta(days=1)
    assert expected_interval("api", 60, DEFAULTS) == timedelta(hours=1)
    assert expected_interval("api", 0, DEFAULTS) is None  # "never stale"
    # A probe every minute is stale after three missed rounds.
    assert expected_interval("probe", None, DEFAULTS, 60) == timedelta(minutes=3)
    assert expected_interval("csv", None, {}) is None


def test_a_source_is_stale_from_its_last_evidence_plus_the_interval():
    last = utc(2026, 8, 31, 23, 30)
    assert stale_from(last, timedelta(minutes=15)) == utc(2026, 8, 31, 23, 45)
    assert not is_stale(last, timedelta(minutes=15), utc(2026, 8, 31, 23, 44))
    assert is_stale(last, timedelta(minutes=15), utc(2026, 8, 31, 23, 45))
    assert not is_stale(None, timedelta(minutes=15), utc(2030, 1, 1))
    assert not is_stale(last, None, utc(2030, 1, 1))


def test_a_service_is_silent_only_when_every_feed_is_stale():
    now = utc(2026, 9, 10)
    old = Feed(utc(2026, 8, 31), utc(2026, 8, 31, 0, 15))
    older = Feed(utc(2026, 8, 1), utc(2026, 8, 1, 0, 15))
    fresh = Feed(utc(2026, 9, 9, 23, 59), utc(2026, 9, 10, 0, 14))
    silence = service_silence([old, older], now)
    assert silence is not None
    assert (silence.last_evidence, silence.since) == (utc(2026, 8, 31), utc(2026, 8, 31, 0, 15))
    assert service_silence([old, fresh], now) is None
    assert service_silence([], now) is None
    assert service_silence([Feed(None, None)], now) is None


def test_open_outages_of_stale_sources_end_where_the_evidence_ends():
    outages = [
        (utc(2026, 8, 1), utc(2026, 8, 1, 1), 1),  # closed: kept
        (utc(2026, 8, 31, 23, 20), None, 1),  # open, source 1 stale
        (utc(2026, 8, 31, 22), None, 2),  # open, source 2 fresh
    ]
    clipped = clip_open_outages(outages, {1: utc(2026, 8, 31, 23, 45)})
    assert clipped == [
        (utc(2026, 8, 1), utc(2026, 8, 1, 1)),
        (utc(2026, 8, 31, 23, 20), utc(2026, 8, 31, 23, 45)),
        (utc(2026, 8, 31, 22), None),
    ]


GOAL = Goal(99.9, 99.5, True)
ALWAYS = BusinessCalendar.always()
SEPTEMBER = (utc(2026, 9, 1), utc(2026, 10, 1))


def test_unmeasured_time_is_neither_up_nor_down():
    silence = [(utc(2026, 9, 16), utc(2026, 10, 1))]  # the second half of September
    outage = [(utc(2026, 9, 10), utc(2026, 9, 10, 1))]
    verdict = availability_verdict(
        ALWAYS, SEPTEMBER, utc(2026, 10, 2), outage, [], None, GOAL, silence
    )
    measured = 15 * DAY
    assert verdict.details["counted_seconds"] == measured
    assert verdict.value == pytest.approx((measured - 3600) / measured * 100)
    assert verdict.details["measured_percent"] == pytest.approx(50.0)
    # Without the silence the hour would weigh half as much: the budget is of measured time.
    assert verdict.details["budget_seconds"] == pytest.approx(measured * 0.001)


def test_a_period_nobody_measured_has_no_value():
    verdict = availability_verdict(
        ALWAYS, SEPTEMBER, utc(2026, 10, 2), [], [], None, GOAL, [SEPTEMBER]
    )
    assert (verdict.value, verdict.status) == (None, "no_data")
    assert verdict.details["measured_percent"] == 0.0


# --- An imported history that ends in August ---------------------------------------------------

pytestmark = pytest.mark.django_db


def import_history(source, service, capture, *spans: tuple[datetime, str]) -> None:
    rows = [{"checked_at": at.isoformat(), "status": status} for at, status in spans]
    with capture(execute=True):
        checks_ingest(source, service, rows)
    source.refresh_from_db()


@pytest.fixture
def august(active_acme_agreement, acme_desk, services, django_capture_on_commit_callbacks):
    """Acme's checks from 1 to 31 August; the service fails at 23:20 on the 31st and the
    history ends with that failure still going on (last check 23:30)."""
    import_history(
        acme_desk,
        services["portal"],
        django_capture_on_commit_callbacks,
        (utc(2026, 8, 1), "up"),
        (utc(2026, 8, 15), "up"),
        (utc(2026, 8, 31, 23, 20), "down"),
        (utc(2026, 8, 31, 23, 30), "down"),
    )
    return acme_desk


def availability(agreement) -> dict[datetime, PeriodResult]:
    rows = PeriodResult.objects.filter(agreement=agreement, metric="availability")
    return {row.period_start: row for row in rows}


def month_by_month(*moments: datetime) -> None:
    """Evaluate the way the beat task does: shortly after each month closes."""
    for moment in moments:
        evaluate_periods(moment)


MONTH_ENDS = (utc(2026, 9, 1, 0, 5), utc(2026, 10, 1, 0, 5), utc(2026, 11, 1, 0, 5))
DECEMBER = utc(2026, 12, 1, 0, 5)


def test_the_ingest_stamps_the_datas_own_time_as_last_evidence(august):
    # Imported in December, the data speaks of August: that is what goes stale.
    assert august.last_data_at == utc(2026, 8, 31, 23, 30)
    assert august.stale_at == utc(2026, 8, 31, 23, 45)
    assert august.last_received_at > utc(2026, 12, 1)


def test_re_importing_older_history_does_not_move_the_evidence_back(
    august, services, django_capture_on_commit_callbacks
):
    import_history(
        august,
        services["portal"],
        django_capture_on_commit_callbacks,
        (utc(2026, 7, 1), "up"),
    )
    assert august.last_data_at == utc(2026, 8, 31, 23, 30)


def test_live_senders_evidence_is_the_receipt(acme, services, active_acme_agreement):
    from monitoring.staleness import evidence_time

    kuma = Source.objects.create(customer=acme, name="Kuma", kind=Source.Kind.UPTIME_KUMA)
    received = utc(2026, 9, 5, 12)
    # A re-sent alert still carries its old start: receiving it proves "still so, now".
    assert evidence_time(kuma, utc(2026, 9, 1), received) == received
    api = Source.objects.create(customer=acme, name="Export", kind=Source.Kind.API)
    assert evidence_time(api, utc(2026, 9, 1), received) == utc(2026, 9, 1)
    assert evidence_time(api, utc(2027, 1, 1), received) == received  # never the future


def test_months_after_the_history_ends_have_no_verdict_and_no_breach_email(
    august, active_acme_agreement
):
    month_by_month(*MONTH_ENDS, DECEMBER)
    results = availability(active_acme_agreement)
    aug = results[utc(2026, 8, 1)]
    # The open outage ends where the evidence ends (23:30 + 15 min), not months later.
    assert aug.details["down_seconds"] == 25 * 60
    assert aug.details["unmeasured_seconds"] == 15 * 60
    assert aug.status == "met"
    for start in (utc(2026, 9, 1), utc(2026, 10, 1), utc(2026, 11, 1)):
        month = results[start]
        assert (month.value, month.status) == (None, "no_data"), start
        assert month.closed_at is not None
        assert month.details["no_data_since"] == "2026-08-31T23:30:00+00:00"
        assert "No data since 31 Aug 2026 23:30" in month.details["reason"]
    assert not Breach.objects.filter(agreement=active_acme_agreement).exists()
    assert not Alert.objects.filter(agreement=active_acme_agreement).exists()
    assert not Notification.objects.filter(kind__startswith="alert").exists()


def test_the_compliance_page_shows_the_time_without_data(
    client, august, active_acme_agreement, alice_manager
):
    month_by_month(*MONTH_ENDS)
    client.force_login(alice_manager)
    url = reverse("monitoring:compliance", args=[active_acme_agreement.pk])
    page = client.get(url).content.decode()
    # August: measured up to the end of the evidence; the later months: not measured at all.
    facts = page[page.find("down 25") :].split("<", 1)[0].replace("\N{NO-BREAK SPACE}", " ")
    assert facts == "down 25 min of 44,625 min counted · 15 min without data"
    assert "No data since 31 Aug 2026 23:30 (UTC): this period was not measured." in page


def test_silence_counts_as_down_where_the_source_says_so(august, active_acme_agreement):
    august.silence_counts_as_down = True
    august.save(update_fields=["silence_counts_as_down"])
    month_by_month(*MONTH_ENDS)
    september = availability(active_acme_agreement)[utc(2026, 9, 1)]
    assert (september.value, september.status) == (0.0, "breached")
    assert september.details["silence_counts_as_down"] is True
    assert Breach.objects.filter(period_result=september).exists()


def test_a_partly_measured_period_says_how_much_was_measured(
    active_acme_agreement, acme_desk, services, django_capture_on_commit_callbacks
):
    import_history(
        acme_desk,
        services["portal"],
        django_capture_on_commit_callbacks,
        (utc(2026, 9, 1), "up"),
        (utc(2026, 9, 10, 11, 45), "up"),
    )
    evaluate_periods(utc(2026, 9, 20))
    september = availability(active_acme_agreement)[utc(2026, 9, 1)]
    # Measured from 1 Sep to 10 Sep 12:00 (the last check + 15 min) of 19 days so far.
    assert september.details["measured_percent"] == pytest.approx(9.5 / 19 * 100)
    assert september.details["no_data_since"] == "2026-09-10T11:45:00+00:00"
    assert (september.value, september.status) == (100.0, "met")


def test_fresh_data_changes_nothing(
    active_acme_agreement, acme_desk, services, django_capture_on_commit_callbacks
):
    import_history(
        acme_desk,
        services["portal"],
        django_capture_on_commit_callbacks,
        (utc(2026, 9, 1), "up"),
        (utc(2026, 9, 19, 23, 50), "down"),
    )
    evaluate_periods(utc(2026, 9, 20))
    september = availability(active_acme_agreement)[utc(2026, 9, 1)]
    assert "no_data_since" not in september.details
    assert september.details["down_seconds"] == 10 * 60  # the outage runs on: data is fresh


# --- Dashboards -----------------------------------------------------------------------------------


def test_dashboards_say_no_data_since(client, august, active_acme_agreement, carol_customer):
    from django.utils import timezone

    evaluate_periods(timezone.now())
    client.force_login(carol_customer)
    page = client.get(reverse("reporting:dashboard")).content.decode()
    assert "No data since" in page and "31 Aug 2026 23:30" in page
    assert "nothing in this period was measured" in page
    # The timeline: the August outage does not run on through the silence; the silence is
    # drawn as no data.
    assert "(ongoing)" not in page and 'data-kind="nodata"' in page


def test_provider_dashboard_says_no_data_since(
    client, august, active_acme_agreement, alice_manager
):
    from django.utils import timezone

    evaluate_periods(timezone.now())
    client.force_login(alice_manager)
    page = client.get(reverse("reporting:dashboard")).content.decode()
    assert "no data since" in page and "31 Aug 2026" in page


# --- The provider is told -------------------------------------------------------------------------


def stale_notices(kind: str = "source_stale") -> list[tuple[str, str]]:
    return sorted(Notification.objects.filter(kind=kind).values_list("recipient", "key"))


def test_the_provider_hears_once_per_stale_episode_and_when_data_resumes(
    august,
    services,
    ada_admin,
    alice_manager,
    tom_team,
    carol_customer,
    django_capture_on_commit_callbacks,
):
    assert check_stale_sources(utc(2026, 12, 1)) == (1, 0)
    key = f"source-{august.pk}-2026-08-31T23:45:00+00:00"
    # Provider admins and service managers; not the team, never the customer.
    assert stale_notices() == sorted([(ada_admin.email, key), (alice_manager.email, key)])
    message = Notification.objects.filter(kind="source_stale").first()
    assert "no data since 31 Aug 2026 23:30" in message.subject
    assert "at least every 15 min" in message.body_text and "no breach" in message.body_text
    assert check_stale_sources(utc(2026, 12, 1, 0, 1)) == (0, 0)  # once per episode

    import_history(
        august, services["portal"], django_capture_on_commit_callbacks, (utc(2026, 12, 1), "up")
    )
    assert check_stale_sources(utc(2026, 12, 1, 0, 5)) == (0, 1)
    assert len(stale_notices("source_resumed")) == 2
    assert check_stale_sources(utc(2026, 12, 1, 0, 6)) == (0, 0)
    # Silent again: a new episode, a new notice.
    assert check_stale_sources(utc(2026, 12, 1, 1)) == (1, 0)
    assert len(stale_notices()) == 4


def test_disabled_and_never_stale_sources_are_not_reported(august, ada_admin):
    from monitoring.sources import source_disable
    from monitoring.staleness import source_set_expectations

    source_set_expectations(august, expected_interval_minutes=0, silence_counts_as_down=False)
    assert august.stale_at is None
    assert check_stale_sources(utc(2026, 12, 1)) == (0, 0)
    source_set_expectations(august, expected_interval_minutes=None, silence_counts_as_down=False)
    source_disable(august)
    assert check_stale_sources(utc(2026, 12, 1)) == (0, 0)


# --- Editing the expectation ------------------------------------------------------------------


def test_manager_sets_the_expected_interval_on_the_edit_page(client, alice_manager, august):
    client.force_login(alice_manager)
    url = reverse("monitoring:source-edit", args=[august.pk])
    assert "Expected data interval" in client.get(url).content.decode()
    detail = client.get(reverse("monitoring:source-detail", args=[august.pk])).content.decode()
    assert "Stale: no data since" in detail and "expected at least every 15 min" in detail
    response = client.post(
        url,
        {
            "name": august.name,
            "description": "",
            "timezone": "UTC",
            "expected_interval_minutes": "120",
            "silence_counts_as_down": "on",
        },
    )
    assert response.status_code == 302
    august.refresh_from_db()
    assert august.expected_interval_minutes == 120 and august.silence_counts_as_down
    assert august.stale_at == utc(2026, 9, 1, 1, 30)
    bad = client.post(url, {"name": august.name, "expected_interval_minutes": "-5"})
    assert bad.status_code == 200


def test_the_api_shows_and_changes_the_expected_interval(client, alice_manager, august):
    client.force_login(alice_manager)
    url = f"/api/sources/{august.pk}/"
    body = client.get(url).json()
    assert body["stale"] is True and body["last_data_at"] == "2026-08-31T23:30:00Z"
    response = client.patch(url, {"expected_interval_minutes": 0}, content_type="application/json")
    assert response.status_code == 200, response.content
    assert response.json()["stale"] is False and response.json()["stale_at"] is None
    refused = client.patch(url, {"expected_interval_minutes": -1}, content_type="application/json")
    assert refused.status_code == 400 and "expected_interval_minutes" in refused.json()


def test_the_sweep_is_a_periodic_task(august, ada_admin):
    from django.conf import settings

    from monitoring.tasks import check_stale_sources as task
    from sla_portal.celery import app

    entry = settings.CELERY_BEAT_SCHEDULE["stale-sources"]
    assert entry["task"] in app.tasks and entry["schedule"] <= 60
    assert task() == 1  # August's history is stale now: one notice
    assert task() == 0
