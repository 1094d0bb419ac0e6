"""Forecasts computed with each open period's evaluation: stored in the period result, the
date they crossed into "predicted to miss", one alert through the escalation matrix, shown on
both dashboards and in the API, scoped to the customer; and the backtest command."""

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from rest_framework.test import APIClient

from monitoring.evaluation.periods import evaluate_periods
from monitoring.ingest.uptime import checks_ingest, maintenance_ingest
from monitoring.models import Alert, EscalationContact, Level, PeriodResult
from monitoring.selectors.evaluation import escalation_matrix
from reporting.selectors.dashboards import customer_dashboard, provider_dashboard
from sla_portal.core.models import Notification

# A quarter of March 2026 gone (Gold: 99.9 % target, 99.5 % threshold, 24x7 UTC).
NOW = datetime(2026, 3, 8, 12, 0, tzinfo=UTC)


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def down(start: datetime, minutes: int) -> list[dict]:
    """Checks around one outage of ``minutes``."""
    end = start + timedelta(minutes=minutes)
    return [
        {"checked_at": (start - timedelta(minutes=1)).isoformat(), "status": "up"},
        {"checked_at": start.isoformat(), "status": "down"},
        {"checked_at": end.isoformat(), "status": "up"},
    ]


def ingest_history(source, service) -> None:
    """January and February with 10 minutes down each; March with 40 minutes down on the
    3rd (90 % of the month's 44.6 min budget): at the pace so far the month misses."""
    # A check opens each month: a backtest sees only what was measured by its moment.
    rows = [{"checked_at": utc(2026, m, 1).isoformat(), "status": "up"} for m in (1, 2, 3)]
    rows += down(utc(2026, 1, 12, 9), 10) + down(utc(2026, 2, 10, 9), 10)
    rows += down(utc(2026, 3, 3, 9), 40)
    rows.append({"checked_at": (NOW - timedelta(minutes=1)).isoformat(), "status": "up"})
    checks_ingest(source, service, rows)


@pytest.fixture
def history(time_machine, active_acme_agreement, acme_desk, services):
    time_machine.move_to(NOW, tick=False)
    ingest_history(acme_desk, services["portal"])
    evaluate_periods(NOW)
    return active_acme_agreement


def march(agreement) -> PeriodResult:
    return PeriodResult.objects.get(
        agreement=agreement, metric="availability", period_start=utc(2026, 3, 1)
    )


def test_open_period_stores_its_forecast_and_the_moment_it_crossed(history):
    row = march(history)
    made = row.details["forecast"]
    assert row.status == "at_risk"
    assert made["predicted"] == "predicted_miss"
    assert 99.5 < made["low"] < made["value"] < 99.9 < made["high"] <= 100
    assert made["crossed"]["predicted_miss"] == NOW.isoformat()
    assert made["history_periods"] == 2
    # Closed periods keep no forecast.
    january = PeriodResult.objects.get(
        agreement=history, metric="availability", period_start=utc(2026, 1, 1)
    )
    assert "forecast" not in january.details

    evaluate_periods(NOW + timedelta(hours=1))
    row.refresh_from_db()
    assert row.details["forecast"]["crossed"]["predicted_miss"] == NOW.isoformat()
    assert row.details["forecast"]["made_at"] == (NOW + timedelta(hours=1)).isoformat()


def test_predicted_miss_alerts_once_with_the_forecasts_confidence(history):
    alerts = Alert.objects.filter(period_result=march(history), level=Level.PREDICTED_MISS)
    assert alerts.count() == 1
    text = alerts.get().value_text
    assert text.startswith("Forecast 99.")
    assert "80 % band" in text and "% likely to miss the target" in text
    evaluate_periods(NOW + timedelta(hours=2))
    assert alerts.count() == 1
    # Through the escalation matrix: the row of warnings (the team) when the agreement
    # names nobody for predictions; the email says what the forecast is and how sure.
    emails = Notification.objects.filter(kind="alert.predicted_miss")
    assert emails.exists()
    body = emails.first().body_text
    assert "Predicted to miss" in body and "is forecast to miss its target" in body
    assert "likely to miss the target" in body


def test_predictions_have_their_own_row_of_the_escalation_matrix(
    time_machine, active_acme_agreement, acme_desk, services, alice_manager
):
    """Contacts named for "predicted to miss" get its email instead of the warning row; the
    matrix page lists both forecast levels."""
    time_machine.move_to(NOW, tick=False)
    EscalationContact.objects.create(
        agreement=active_acme_agreement, level=Level.PREDICTED_MISS, email="oncall@acme.example"
    )
    ingest_history(acme_desk, services["portal"])
    evaluate_periods(NOW)
    emails = Notification.objects.filter(kind="alert.predicted_miss")
    assert list(emails.values_list("recipient", flat=True)) == ["oncall@acme.example"]
    matrix = escalation_matrix(alice_manager, active_acme_agreement)
    rows = {row.level: row for row in matrix}
    assert [e.email for e in rows[Level.PREDICTED_MISS].entries] == ["oncall@acme.example"]
    # Without contacts of its own, "predicted to breach" goes to the target-missed row.
    missed = [e.email for e in rows[Level.MISSED_TARGET].entries]
    assert [e.email for e in rows[Level.PREDICTED_BREACH].entries] == missed
    assert rows[Level.PREDICTED_BREACH].label == "Predicted to breach"


def test_less_time_left_after_announced_maintenance_changes_the_forecast(
    history, acme_desk, services
):
    """Announced maintenance is left out of the time still to come."""
    before = march(history).details["forecast"]["value"]
    maintenance_ingest(
        acme_desk,
        [
            {
                "external_id": "long-window",
                "service": services["portal"].name,
                "starts_at": utc(2026, 3, 20).isoformat(),
                "ends_at": utc(2026, 3, 21).isoformat(),
                "announced_at": utc(2026, 3, 1).isoformat(),
            }
        ],
    )
    evaluate_periods(NOW + timedelta(minutes=5))
    row = march(history)
    assert row.details["counted_seconds"] < 31 * 86400
    assert row.details["forecast"]["value"] != before


def test_both_dashboards_and_the_api_show_the_forecast(
    history, client, carol_customer, alice_manager
):
    panel = customer_dashboard(carol_customer, NOW)[0]
    target = next(t for t in panel.targets if t.metric == "availability")
    assert target.forecast.predicted == "predicted_miss"
    assert target.forecast.crossed_at == NOW
    client.force_login(carol_customer)
    page = client.get(reverse("reporting:dashboard")).content.decode()
    assert "Predicted to miss the target" in page and "Forecast crossed on" in page
    assert "80 % band" in page

    board = provider_dashboard(alice_manager, NOW)
    chip = next(
        t for light in board.agreements for t in light.targets if t.metric == "availability"
    )
    assert chip.forecast.word == "Predicted to miss the target"
    client.force_login(alice_manager)
    page = client.get(reverse("reporting:dashboard")).content.decode()
    assert 'data-forecast="predicted_miss"' in page

    api = APIClient()
    api.force_authenticate(carol_customer)
    body = api.get(f"/api/compliance/{march(history).pk}/").json()
    assert body["forecast"]["predicted"] == "predicted_miss"
    assert body["forecast"]["crossed_at"].startswith("2026-03-08T12:00")
    assert body["forecast"]["low"] < body["forecast"]["value"] < body["forecast"]["high"]


def test_another_customer_sees_no_forecast(history, other_org_viewer):
    api = APIClient()
    api.force_authenticate(other_org_viewer)
    assert api.get(f"/api/compliance/{march(history).pk}/").status_code == 404
    assert customer_dashboard(other_org_viewer, NOW) == []


def test_backtest_command_over_the_closed_periods(history):
    """January and February are closed: each seen at 25/50/75 %, both met."""
    out = StringIO()
    call_command("backtest_forecasts", "--agreement", history.reference, stdout=out)
    table = out.getvalue()
    assert "| availability | 25% | 2 | 0 |" in table
    assert "| availability | 75% | 2 | 0 | 2 (100%) | 2 (100%) | 2 (100%) |" in table
    assert "availability at 75%: degenerate" in table
    # Right as often as the current value and no miss to warn of: it says so.
    assert "availability at 50%: the forecast does no better than the current value" in table
    assert "| availability | 2 | 0 | 0 / 0 | 0 / 0 | – / – | – | 0 / 0 |" in table


def test_backtest_command_refuses_an_unknown_agreement(db):
    with pytest.raises(CommandError, match="No agreement with the reference SLA-0000"):
        call_command("backtest_forecasts", "--agreement", "SLA-0000", stdout=StringIO())


@pytest.fixture
def missed_february(time_machine, active_acme_agreement, acme_desk, services):
    """January 10 min down; February (28 days, a 40.3 min budget) 25 min on the 3rd and the
    10th, 20 min on the 20th: 70 min, missed. Evaluated in April: both months closed."""
    now = utc(2026, 4, 2)
    time_machine.move_to(now, tick=False)
    rows = [{"checked_at": utc(2026, 1, 1).isoformat(), "status": "up"}]
    rows += down(utc(2026, 1, 12, 9), 10)
    rows += down(utc(2026, 2, 3, 9), 25) + down(utc(2026, 2, 10, 9), 25)
    rows += down(utc(2026, 2, 20, 9), 20)
    rows.append({"checked_at": (now - timedelta(minutes=1)).isoformat(), "status": "up"})
    checks_ingest(acme_desk, services["portal"], rows)
    evaluate_periods(now)
    return active_acme_agreement


def test_backtest_on_a_synthetic_history_with_a_missed_month(missed_february):
    """At 25 % of February (the 8th) 25 min are down, within the budget: the current value
    says met, the forecast (that pace, blended with January's) says missed. The daily scan
    finds the forecast's first warning on the 4th (25 days before the end), the current
    value's on the 11th, after the second outage (18 days). Its alert goes out for
    February and for no met month: each moment sees only what was known then (an outage
    still going is open, a later one unknown), so a miss to come does not silence it."""
    out = StringIO()
    call_command("backtest_forecasts", "--agreement", missed_february.reference, stdout=out)
    lines = out.getvalue().splitlines()
    assert (
        "| availability | 25% | 2 | 1 | 2 (100%) | 1 (50%) | 1 (50%) | 2 (100%) | 1 / 0 | 0 / 0 |"
        in lines
    )
    assert (
        "| availability | 50% | 2 | 1 | 2 (100%) | 2 (100%) | 1 (50%) | 2 (100%) | 1 / 1 | 0 / 0 |"
        in lines
    )
    assert not any(line.startswith("- availability at 25%") for line in lines)
    assert any(
        line.startswith("- availability at 50%: the forecast does no better") for line in lines
    )
    assert "| availability | 2 | 1 | 1 / 1 | 0 / 0 | 25.0 / 18.0 | 7.0 | 1 / 0 |" in lines
    assert not any("warns of misses no earlier" in line for line in lines)


def test_backtest_without_the_lead_time_scan(missed_february):
    out = StringIO()
    call_command(
        "backtest_forecasts",
        "--agreement",
        missed_february.reference,
        "--step-hours",
        "0",
        stdout=out,
    )
    assert "| availability | 25% |" in out.getvalue() and "Lead time" not in out.getvalue()
    with pytest.raises(CommandError, match="--step-hours"):
        call_command("backtest_forecasts", "--step-hours", "-1", stdout=StringIO())


def test_a_past_moment_is_measured_with_only_what_was_known_then(history):
    """The backtest's view of 3 March: at 09:20 the 40-minute outage is 20 minutes old and
    open (its end unknown, so its crossing of the budget is still ahead); on the 2nd it
    has not happened. Without the cut-off the later outage's real end leaks in."""
    from agreements.models import Service
    from agreements.terms import measured_terms
    from monitoring.evaluation.measure import measure

    terms = measured_terms(history)
    target = next(t for t in terms.targets if t.metric == "availability")
    ids = list(Service.objects.filter(name__in=terms.services).values_list("pk", flat=True))
    month = (utc(2026, 3, 1), utc(2026, 4, 1))
    during = utc(2026, 3, 3, 9, 20)
    verdict, _, _ = measure(history, terms, target, ids, month, during, False, as_of=during)
    assert verdict.details["down_seconds"] == 20 * 60
    assert verdict.crossings  # open: the moment it would cross is scheduled, not known
    before = utc(2026, 3, 2)
    verdict, _, _ = measure(history, terms, target, ids, month, before, False, as_of=before)
    assert verdict.details["down_seconds"] == 0 and not verdict.crossings


def test_predicted_to_breach_still_alerts_once_the_target_is_missed():
    """The period already missed the target: "predicted to miss" says nothing new, but
    "predicted to breach" does, until it breaches."""
    from monitoring.compliance.states import BREACHED, MISSED_TARGET
    from monitoring.compliance.verdicts import Verdict
    from monitoring.evaluation.forecasts import alert_level

    breach = {"predicted": "predicted_breach", "confidence": 0.9}
    miss = {"predicted": "predicted_miss", "confidence": 0.9}
    missed = Verdict(99.8, MISSED_TARGET, False, {})
    assert alert_level(breach, missed) == Level.PREDICTED_BREACH
    assert alert_level(miss, missed) is None
    assert alert_level(breach, Verdict(99.0, BREACHED, False, {})) is None
    # A measured value needs two samples before it alerts.
    assert alert_level({**breach, "samples": 1}, Verdict(250, "met", False, {})) is None
    assert alert_level({**breach, "samples": 2}, Verdict(250, "met", False, {})) is not None


def test_a_forecast_falls_back_to_the_warning_contacts_without_the_customer(
    active_acme_agreement, tom_team, victor_viewer, carol_customer
):
    """The warning level names a customer user, a customer's address and the team: a
    forecast, which falls back to those contacts, pages only the team."""
    from monitoring.evaluation.alerts import recipients

    agreement = active_acme_agreement
    for person in (victor_viewer, tom_team):
        EscalationContact.objects.create(agreement=agreement, level="warning", user=person)
    EscalationContact.objects.create(
        agreement=agreement, level="warning", email=carol_customer.email.upper()
    )
    assert len(recipients(agreement, Level.WARNING)) == 3
    assert recipients(agreement, Level.PREDICTED_MISS) == [tom_team]


def test_history_is_read_once_per_period_and_the_deadline_tick_keeps_the_forecast(history):
    """The first evaluation of March summed its history's outages per hour of the week in
    the database and kept the result; later evaluations reuse it (no history query), and
    the deadline loop's tick carries the forecast over without making it again."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from monitoring.evaluation.forecasts import HISTORY_KEY
    from monitoring.evaluation.periods import evaluate_agreement_periods

    kept = march(history).details[HISTORY_KEY]
    assert kept["rates"] and len(kept["sizes"]) == 1
    with CaptureQueriesContext(connection) as full:
        evaluate_periods(NOW + timedelta(hours=1))
    sql = " ".join(q["sql"] for q in full.captured_queries).upper()
    assert "ISODOW" not in sql
    assert march(history).details[HISTORY_KEY] == kept
    with CaptureQueriesContext(connection) as tick:
        evaluate_agreement_periods(history, NOW + timedelta(hours=2), forecast=False)
    assert len(tick.captured_queries) < len(full.captured_queries)
    made = march(history).details["forecast"]
    assert made["made_at"] == (NOW + timedelta(hours=1)).isoformat()
    assert march(history).details[HISTORY_KEY] == kept


def test_the_first_evaluation_groups_the_history_in_the_database(
    time_machine, active_acme_agreement, acme_desk, services
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    time_machine.move_to(NOW, tick=False)
    ingest_history(acme_desk, services["portal"])
    with CaptureQueriesContext(connection) as first:
        evaluate_periods(NOW)
    grouped = [q["sql"] for q in first.captured_queries if "ISODOW" in q["sql"].upper()]
    assert len(grouped) == 1 and "GROUP BY" in grouped[0].upper()


def test_error_counts_are_projected_over_calendar_time_as_they_are_counted():
    """The verdict counts every error, in service hours or not: a weekday-only calendar
    must not shrink the time the forecast projects errors over."""
    from types import SimpleNamespace

    from monitoring.compliance.verdicts import Goal, Verdict
    from monitoring.evaluation.forecasts import observe

    class OfficeHours:
        def business_seconds(self, a, b):
            return (b - a).total_seconds() / 4

    target = SimpleNamespace(
        is_ticket_timer=False,
        is_experience=False,
        metric="errors",
        data_source="errors",
        calendar=OfficeHours(),
        zone="UTC",
    )
    period = (utc(2026, 3, 1), utc(2026, 4, 1))
    known = (Verdict(3, "met", False, {}), Goal(10, 20, False))
    seen = observe(None, None, target, [], period, utc(2026, 3, 11), None, None, known)
    assert seen.observation.elapsed == 10 * 86400
    assert seen.observation.remaining == 21 * 86400


def test_the_backtest_judges_a_period_by_its_own_terms(missed_february, monkeypatch):
    """Today's terms with a lax 99 % target: February is still judged by the 99.9 % it was
    judged by (the forecast calls the miss); periods of another version are left out."""
    from dataclasses import replace
    from decimal import Decimal

    from monitoring.evaluation import backtest

    real = backtest.measured_terms

    def lax(agreement):
        terms = real(agreement)
        targets = tuple(
            replace(t, target_value=Decimal("99.0"), threshold_value=Decimal("98.0"))
            if t.metric == "availability"
            else t
            for t in terms.targets
        )
        return replace(terms, targets=targets)

    monkeypatch.setattr(backtest, "measured_terms", lax)
    out = StringIO()
    call_command("backtest_forecasts", "--agreement", missed_february.reference, stdout=out)
    assert "| availability | 75% | 2 | 1 | 2 (100%) |" in out.getvalue()

    monkeypatch.setattr(backtest, "measured_terms", lambda a: replace(real(a), version_id=-1))
    out = StringIO()
    call_command("backtest_forecasts", "--agreement", missed_february.reference, stdout=out)
    assert "| availability |" not in out.getvalue()


def test_a_forecast_count_reads_to_one_decimal():
    """An error count's forecast is an expectation: "5.3 (3 to 7.9)", never "5.32038"."""
    from types import SimpleNamespace

    from reporting.selectors.forecasts import forecast_of

    made = {
        "value": 5.32038,
        "low": 3.0,
        "high": 7.9201,
        "unit": "count",
        "predicted": "predicted_breach",
        "confidence": 0.8,
    }
    row = SimpleNamespace(
        details={"forecast": made},
        closed_at=None,
        value_unit="count",
        goal_target=2.0,
        goal_threshold=5.0,
    )
    view = forecast_of(row)
    assert (view.value_text, view.low_text, view.high_text) == ("5.3", "3", "7.9")


def test_a_forecast_count_in_the_email_reads_to_one_decimal():
    from monitoring.compliance.verdicts import Goal
    from monitoring.evaluation.forecasts import forecast_text

    made = {
        "value": 5.32038,
        "low": 3.0,
        "high": 7.9201,
        "unit": "count",
        "predicted": "predicted_breach",
        "chance_breached": 0.8,
        "chance_missed": 0.95,
    }
    text = forecast_text(made, Goal(2.0, 5.0, False))
    assert text.startswith("Forecast 5.3 (80 % band 3 to 7.9) against target 2 (threshold 5)")
