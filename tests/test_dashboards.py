"""The dashboards: what each person sees, how states map to red/amber/green, the order of the
tickets at risk, and that a dashboard costs a fixed handful of queries however much data lies
behind it (they read the engine's rollups, never raw tickets or checks)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from agreements.services import lifecycle
from agreements.services.drafting import agreement_create_from_tier
from monitoring.evaluation.periods import evaluate_periods
from monitoring.evaluation.tickets import evaluate_pending_tickets
from monitoring.format import duration
from monitoring.ingest.tickets import tickets_ingest
from monitoring.ingest.uptime import checks_ingest
from monitoring.models import PeriodResult, Source, Status, TicketTimer
from reporting.selectors.dashboards import customer_dashboard, provider_dashboard
from reporting.selectors.gauges import gauge_for, gauge_scale
from reporting.selectors.overview import agreement_overview
from reporting.selectors.states import state_of
from sla_portal.core.models import Role
from tests.support.actors import make_user
from tests.support.agreements import complete_for_proposal

pytestmark = pytest.mark.django_db

DASHBOARD = reverse("reporting:dashboard")
LIVE = reverse("reporting:dashboard-live")


# --- Data --------------------------------------------------------------------------------------


def activate_globex_agreement(tiers, services, globex, alice_manager):
    """A Silver agreement for Globex, signed by both sides and in force since 1 January."""
    gina = make_user("gina_globex", globex, Role.CUSTOMER_APPROVER)
    agreement = agreement_create_from_tier(
        tier=tiers["silver"],
        customer=globex,
        title="Patient Records – Silver",
        services=[services["records"]],
        effective_from=timezone.localdate().replace(day=1) - timedelta(days=1),
        created_by=alice_manager,
    )
    agreement.service_description = "Operation of the patient records platform."
    agreement.change_policy = "Normal changes go through the CAB."
    complete_for_proposal(agreement)
    version = lifecycle.propose(agreement, alice_manager)
    lifecycle.accept(agreement, gina, version.number)
    lifecycle.sign(agreement, alice_manager)
    lifecycle.sign(agreement, gina)
    agreement.refresh_from_db()
    assert agreement.status == "active"
    return agreement


def open_ticket(source, agreement, external_id: str, priority: str, minutes_ago: float) -> None:
    opened = timezone.now() - timedelta(minutes=minutes_ago)
    tickets_ingest(
        source,
        [
            {
                "external_id": external_id,
                "agreement": agreement.reference,
                "priority": priority,
                "opened_at": opened.isoformat(),
            }
        ],
    )


def evaluate() -> None:
    now = timezone.now()
    evaluate_pending_tickets(now)
    evaluate_periods(now)


@pytest.fixture
def globex_active(tiers, services, globex, alice_manager):
    return activate_globex_agreement(tiers, services, globex, alice_manager)


@pytest.fixture
def two_customers(active_acme_agreement, globex_active, acme_desk, globex):
    """Acme and Globex, each with an agreement in force and open tickets of its own."""
    globex_desk = Source.objects.create(customer=globex, name="Globex desk", timezone="UTC")
    open_ticket(acme_desk, active_acme_agreement, "ACME-1", "P1", 13)
    open_ticket(acme_desk, active_acme_agreement, "ACME-2", "P4", 1)
    open_ticket(globex_desk, globex_active, "GLOBEX-1", "P2", 5)
    evaluate()
    return active_acme_agreement, globex_active


# --- Who sees what ----------------------------------------------------------------------------


def test_customer_sees_only_own_agreements_and_tickets(
    client, two_customers, carol_customer, other_org_viewer
):
    acme_agreement, globex_agreement = two_customers

    client.force_login(carol_customer)
    page = client.get(DASHBOARD).content.decode()
    assert acme_agreement.reference in page and "ACME-1" in page
    assert globex_agreement.reference not in page
    assert "GLOBEX-1" not in page
    assert "Patient Records" not in page

    client.force_login(other_org_viewer)
    page = client.get(DASHBOARD).content.decode()
    assert globex_agreement.reference in page and "GLOBEX-1" in page
    assert acme_agreement.reference not in page
    assert "ACME-1" not in page and "ACME-2" not in page


def test_customer_live_partial_is_scoped_too(client, two_customers, other_org_viewer):
    acme_agreement, _ = two_customers
    client.force_login(other_org_viewer)
    partial = client.get(LIVE).content.decode()
    assert 'id="dashboard-live"' in partial
    assert acme_agreement.reference not in partial and "ACME-1" not in partial


def test_customer_without_monitored_agreement_sees_none(client, acme_agreement, carol_customer):
    """A draft is not monitored: nothing to show, and nothing of anyone else's."""
    client.force_login(carol_customer)
    page = client.get(DASHBOARD).content.decode()
    assert 'id="no-agreements"' in page
    assert acme_agreement.reference not in page


def test_provider_sees_every_agreement(client, two_customers, alice_manager):
    acme_agreement, globex_agreement = two_customers
    client.force_login(alice_manager)
    page = client.get(DASHBOARD).content.decode()
    assert "Provider dashboard" in page
    for reference in (acme_agreement.reference, globex_agreement.reference):
        assert f'data-agreement="{reference}"' in page
    for ticket in ("ACME-1", "ACME-2", "GLOBEX-1"):
        assert f'data-ticket="{ticket}"' in page


def test_customer_selectors_never_return_other_orgs_rows(
    two_customers, carol_customer, other_org_viewer
):
    acme_agreement, globex_agreement = two_customers
    panels = customer_dashboard(carol_customer)
    assert [p.agreement.pk for p in panels] == [acme_agreement.pk]
    tickets = {row.timer.ticket.external_id for p in panels for row in p.tickets}
    assert tickets == {"ACME-1", "ACME-2"}
    board = provider_dashboard(other_org_viewer)
    assert [light.agreement.pk for light in board.agreements] == [globex_agreement.pk]
    assert {row.timer.ticket.external_id for row in board.tickets_at_risk} == {"GLOBEX-1"}
    assert board.delivery_problems == []


def test_anonymous_is_sent_to_login_and_polling_stops(client):
    response = client.get(DASHBOARD)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    # 286: htmx stops polling instead of swapping the login page into the dashboard.
    assert client.get(LIVE).status_code == 286


# --- States -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "rag", "word"),
    [
        (Status.MET, "green", "Met"),
        (Status.AT_RISK, "amber", "At risk"),
        (Status.MISSED_TARGET, "amber", "Target missed"),
        (Status.BREACHED, "red", "Threshold breached"),
        (Status.NO_DATA, "grey", "No data"),
    ],
)
def test_status_maps_to_red_amber_green_with_icon_and_word(status, rag, word):
    state = state_of(status)
    assert (state.rag, state.text) == (rag, word)
    assert state.icon.startswith("bi-")


def test_availability_gauge_turns_amber_then_red_with_downtime(
    mid_month, client, active_acme_agreement, acme_desk, services, carol_customer
):
    """Downtime beyond the error budget misses the target (amber); beyond what the threshold
    allows it breaches (red). The page says so in words, not only in colour."""
    now = timezone.now()
    portal = services["portal"]
    checks_ingest(
        acme_desk, portal, [{"checked_at": (now - timedelta(hours=8)).isoformat(), "status": "up"}]
    )
    evaluate()
    client.force_login(carol_customer)

    def availability():
        panel = customer_dashboard(carol_customer)[0]
        return next(t for t in panel.targets if t.metric == "availability")

    assert (availability().state.rag, availability().state.text) == ("green", "Met")
    rows = [
        {"checked_at": (now - timedelta(minutes=61)).isoformat(), "status": "up"},
        {"checked_at": (now - timedelta(minutes=60)).isoformat(), "status": "down"},
        {"checked_at": (now - timedelta(minutes=1)).isoformat(), "status": "up"},
    ]
    checks_ingest(acme_desk, portal, rows)
    evaluate()
    target = availability()
    assert (target.state.rag, target.state.text) == ("amber", "Target missed")
    assert "against target 99.90 %, threshold 99.50 %" in target.sentence
    # The budget is 0.1 % of this month's minutes (24x7): 43 min in a 30-day month, 45 in a
    # 31-day one; 59 min were down.
    month = target.current
    budget = (month.period_end - month.period_start).total_seconds() * 0.001
    assert month.details["down_seconds"] == 59 * 60
    # Said once, by the error budget's lines: used, allowed and how far over.
    assert target.remaining == ""
    assert target.budget.used == f"{duration(59 * 60)} of {duration(budget)} downtime used"
    assert target.budget.left == f"overspent by {duration(59 * 60 - budget)}"
    page = client.get(DASHBOARD).content.decode()
    assert target.budget.used in page and target.budget.left in page
    assert "Error budget left" not in page and "Error budget spent" not in page
    assert 'aria-label="Availability: ' in page and "Target missed" in page

    checks_ingest(
        acme_desk,
        portal,
        [
            {"checked_at": (now - timedelta(hours=6, minutes=1)).isoformat(), "status": "up"},
            {"checked_at": (now - timedelta(hours=6)).isoformat(), "status": "down"},
            {"checked_at": (now - timedelta(hours=2)).isoformat(), "status": "up"},
        ],
    )
    evaluate()
    assert (availability().state.rag, availability().state.text) == ("red", "Threshold breached")


def test_gauge_places_target_right_of_threshold_for_shares_of_tickets(active_acme_agreement):
    """Ticket time targets are "lower is better" but their period value is the share of
    tickets within the time: more is better, so the target sits right of the threshold."""
    evaluate()
    row = PeriodResult.objects.filter(metric="response_time").first()
    assert row.direction == "lower"
    row.value = 92.0
    gauge = gauge_for(row)
    assert gauge.threshold < gauge.value < gauge.target
    errors = PeriodResult.objects.filter(metric="error_count").exclude(goal_target=0).first()
    errors.value = 3.0
    gauge = gauge_for(errors)  # target 2, threshold 5: lower is better
    assert gauge.target < gauge.value < gauge.threshold


# --- Tickets at risk ----------------------------------------------------------------------------


def test_tickets_at_risk_are_sorted_by_time_to_breach(
    client, active_acme_agreement, acme_desk, alice_manager
):
    open_ticket(acme_desk, active_acme_agreement, "LATER-P4", "P4", 1)
    open_ticket(acme_desk, active_acme_agreement, "SOON-P1", "P1", 13)  # past its warning point
    open_ticket(acme_desk, active_acme_agreement, "MIDDLE-P2", "P2", 5)
    open_ticket(acme_desk, active_acme_agreement, "GONE-P1", "P1", 45)  # threshold passed
    evaluate()

    board = provider_dashboard(alice_manager)
    rows = board.tickets_at_risk
    deadlines = [row.deadline for row in rows]
    assert deadlines == sorted(deadlines)
    first = rows[0]
    assert (first.timer.ticket.external_id, first.timer.target_label) == (
        "SOON-P1",
        "Response time (P1)",
    )
    assert first.state.text == "At risk" and first.left_text.endswith("left")
    # A breached ticket is an open breach, listed there, not a ticket at risk.
    assert all(row.timer.state != Status.BREACHED for row in rows)
    assert "GONE-P1" in {
        r.breach.ticket.external_id for r in board.open_breaches if r.breach.ticket_id
    }

    client.force_login(alice_manager)
    html = client.get(DASHBOARD).content.decode()
    section = html[html.index('id="tickets-at-risk"') :]
    assert section.index('data-ticket="SOON-P1"') < section.index('data-ticket="MIDDLE-P2"')
    assert section.index('data-ticket="MIDDLE-P2"') < section.index('data-ticket="LATER-P4"')


def test_customer_open_tickets_show_time_left_nearest_first(
    active_acme_agreement, acme_desk, carol_customer
):
    open_ticket(acme_desk, active_acme_agreement, "A-P4", "P4", 1)
    open_ticket(acme_desk, active_acme_agreement, "B-P1", "P1", 2)
    evaluate()
    rows = customer_dashboard(carol_customer)[0].tickets
    assert [r.timer.ticket.external_id for r in rows][:1] == ["B-P1"]
    assert rows[0].left_text == "28 min left"
    assert all(r.timer.stopped_at is None for r in rows)


# --- The provider's other panels -----------------------------------------------------------------


def test_provider_sees_stages_reviews_and_expiries(
    active_acme_agreement, globex_agreement, alice_manager
):
    from agreements.models import Review

    active_acme_agreement.effective_to = timezone.localdate() + timedelta(days=30)
    active_acme_agreement.save()
    # Activation scheduled a review one interval (3 months) out, which may fall inside the
    # 90-day window or not depending on today's date: replace it with one due in 10 days.
    Review.objects.filter(agreement=active_acme_agreement).delete()
    Review.objects.create(
        agreement=active_acme_agreement,
        due_date=timezone.localdate() + timedelta(days=10),
        period_start=timezone.localdate() - timedelta(days=80),
        period_end=timezone.localdate() + timedelta(days=10),
    )
    board = provider_dashboard(alice_manager)
    stages = {stage: total for stage, total, _ in board.stages}
    assert stages == {"negotiate": 1, "finalize": 0, "monitor": 1, "report": 0, "review": 0}
    assert [(d.agreement.pk, d.days) for d in board.reviews] == [(active_acme_agreement.pk, 10)]
    assert [(d.agreement.pk, d.days) for d in board.expiries] == [(active_acme_agreement.pk, 30)]


def test_provider_sees_alert_delivery_problems(client, alice_manager, carol_customer):
    from sla_portal.core.models import Notification

    Notification.objects.create(
        kind="alert.breached",
        key="alert:1",
        recipient="oncall@acme.example",
        subject="Threshold breached: Availability",
        body_text="…",
        body_html="…",
        status=Notification.Status.FAILED,
        attempts=5,
        last_error="550 mailbox unavailable",
    )
    client.force_login(alice_manager)
    page = client.get(DASHBOARD).content.decode()
    assert "550 mailbox unavailable" in page and "oncall@acme.example" in page
    client.force_login(carol_customer)
    assert "550 mailbox unavailable" not in client.get(DASHBOARD).content.decode()


# --- Live updates -------------------------------------------------------------------------------


def test_live_partial_answers_204_until_something_changes(
    client, active_acme_agreement, acme_desk, carol_customer
):
    evaluate()
    client.force_login(carol_customer)
    first = client.get(LIVE)
    assert first.status_code == 200
    version = first.content.decode().split('data-version="', 1)[1].split('"', 1)[0]
    assert client.get(LIVE, {"v": version}).status_code == 204

    open_ticket(acme_desk, active_acme_agreement, "NEW-1", "P2", 1)
    evaluate()
    changed = client.get(LIVE, {"v": version})
    assert changed.status_code == 200
    assert 'data-ticket="NEW-1"' in changed.content.decode()


# --- Query counts ---------------------------------------------------------------------------------


def test_customer_dashboard_query_count_does_not_grow_with_data(
    client, django_assert_max_num_queries, two_customers, acme_desk, carol_customer, services
):
    acme_agreement, _ = two_customers
    client.force_login(carol_customer)
    client.get(DASHBOARD)  # warm the session
    with django_assert_max_num_queries(12):
        assert client.get(DASHBOARD).status_code == 200
    for n in range(20):
        open_ticket(acme_desk, acme_agreement, f"MORE-{n}", "P3", n)
    now = timezone.now()
    checks_ingest(
        acme_desk,
        services["portal"],
        [
            {"checked_at": (now - timedelta(minutes=m)).isoformat(), "status": s}
            for m, s in ((50, "down"), (40, "up"), (30, "down"), (20, "up"))
        ],
    )
    evaluate()
    with django_assert_max_num_queries(12):
        assert client.get(DASHBOARD).status_code == 200
    with django_assert_max_num_queries(12):
        assert client.get(LIVE).status_code == 200


def test_provider_dashboard_query_count_does_not_grow_with_agreements(
    client, django_assert_max_num_queries, two_customers, acme_desk, alice_manager
):
    acme_agreement, _ = two_customers
    client.force_login(alice_manager)
    client.get(DASHBOARD)
    with django_assert_max_num_queries(14):
        assert client.get(DASHBOARD).status_code == 200
    for n in range(15):
        open_ticket(acme_desk, acme_agreement, f"MORE-{n}", "P2", n)
    evaluate()
    assert TicketTimer.objects.filter(stopped_at__isnull=True).count() > 30
    with django_assert_max_num_queries(14):
        assert client.get(DASHBOARD).status_code == 200


def test_provider_dashboard_reads_experience_comments_in_one_query(
    client, django_assert_max_num_queries, two_customers, alice_manager
):
    """Several agreements whose experience figures missed their targets: their low comments
    come in one query, not one per agreement."""
    from monitoring.models import Survey

    client.force_login(alice_manager)
    client.get(DASHBOARD)
    with django_assert_max_num_queries(14):
        assert client.get(DASHBOARD).status_code == 200
    now = timezone.now()
    for agreement in two_customers:
        row = PeriodResult.objects.filter(
            agreement=agreement, period_start__lte=now, period_end__gt=now
        ).first()
        for metric, status in (("csat", Status.BREACHED), ("nps", Status.MISSED_TARGET)):
            row.pk = None
            row.target_key = f"{metric}-experience"
            row.metric = metric
            row.status = status
            row.value = 1.0
            row.details = {"responses": 5, "min_responses": 3}
            row.save()
        Survey.objects.create(
            kind=Survey.Kind.NPS,
            agreement=agreement,
            customer_id=agreement.customer_id,
            round=1,
            round_on=now.date(),
            recipient="someone@example.com",
            answered_at=max(now - timedelta(minutes=1), row.period_start),
            score=2,
            comment=f"Unhappy with {agreement.reference}.",
        )
    with django_assert_max_num_queries(15) as captured:
        assert client.get(DASHBOARD).status_code == 200
    survey_reads = [q for q in captured.captured_queries if '"monitoring_survey"' in q["sql"]]
    assert len(survey_reads) == 1


# --- The agreement-status panel -------------------------------------------------------------------


def test_agreement_overview_shows_stage_compliance_and_links(
    active_acme_agreement, carol_customer, other_org_viewer, django_assert_max_num_queries
):
    evaluate()
    with django_assert_max_num_queries(4):
        overview = agreement_overview(active_acme_agreement, carol_customer)
    assert overview.monitored
    assert {t.metric for t in overview.targets} >= {"availability", "response_time"}
    html = render_to_string("reporting/_agreement_status.html", {"overview": overview})
    pk = active_acme_agreement.pk
    assert 'data-stage="monitor"' in html and 'aria-current="step"' in html
    assert f"{reverse('reporting:report-list')}?agreement={pk}" in html
    assert reverse("monitoring:compliance", args=[pk]) in html
    assert f"{reverse('agreements:lifecycle', args=[pk])}#versions" in html
    assert f"{reverse('agreements:lifecycle', args=[pk])}#reviews" in html
    review = overview.latest_review  # activation schedules the first review
    assert reverse("agreements:review", args=[pk, review.pk]) in html
    assert "Availability" in html and "Met" in html

    # Someone of another organisation learns nothing about the compliance.
    assert agreement_overview(active_acme_agreement, other_org_viewer).targets == []


def test_agreement_overview_of_a_draft_is_not_monitored(acme_agreement, alice_manager):
    overview = agreement_overview(acme_agreement, alice_manager)
    assert not overview.monitored and overview.targets == []
    html = render_to_string("reporting/_agreement_status.html", {"overview": overview})
    assert "Not monitored" in html and 'data-stage="negotiate"' in html


# --- An honest gauge ----------------------------------------------------------------------------


def _period(**fields) -> PeriodResult:
    defaults = {
        "target_label": "Resolution time (P2)",
        "metric": "resolution_time",
        "value_unit": "percent",
        "direction": "lower",
        "goal_target": 95.0,
        "goal_threshold": 90.0,
        "value": 66.67,
        "status": Status.BREACHED,
    }
    return PeriodResult(**(defaults | fields))


def test_a_share_of_tickets_is_drawn_on_a_scale_from_zero_to_a_hundred():
    """The issue: P2 at 66.67 % looked empty on an axis starting at 64.17 %. A share fills
    its share of the bar: two thirds."""
    gauge = gauge_for(_period())
    assert (gauge.bottom, gauge.top, gauge.broken) == (0.0, 100.0, False)
    assert (gauge.low, gauge.high) == ("0 %", "100 %")
    assert gauge.value == 66.67 and gauge.threshold == 90.0 and gauge.target == 95.0
    assert gauge.note == ""


def test_availability_targets_too_close_to_tell_apart_get_a_marked_broken_axis():
    """99.9 % and 99.5 % are 0.4 % of a 0–100 % bar apart: the axis starts at a round
    number below them and says so."""
    gauge = gauge_for(
        _period(
            metric="availability",
            direction="higher",
            goal_target=99.9,
            goal_threshold=99.5,
            value=99.95,
            status=Status.MET,
        )
    )
    assert gauge.broken and gauge.bottom == 98.0 and gauge.top == 100.0
    assert gauge.note == "axis starts at 98 %"
    assert gauge.threshold < gauge.target < gauge.value
    html = render_to_string(
        "reporting/_dashboard_gauge.html",
        {"t": {"gauge": gauge, "label": "Availability", "sentence": "", "state": state_of("met")}},
    )
    assert "gauge-break" in html and "Axis starts at 98 %" in html
    assert "axis starts at 98 %" in html  # in the accessible name too


def test_a_value_far_below_a_broken_axis_widens_it():
    gauge = gauge_for(
        _period(
            metric="availability",
            direction="higher",
            goal_target=99.9,
            goal_threshold=99.5,
            value=96.5,
        )
    )
    assert gauge.bottom <= 96.5 and not gauge.clipped and gauge.value > 0


def test_a_lower_is_better_figure_starts_at_zero():
    gauge = gauge_for(
        _period(metric="error_count", value_unit="count", goal_target=2, goal_threshold=5, value=3)
    )
    assert gauge.bottom == 0.0 and not gauge.broken
    assert gauge.target < gauge.value < gauge.threshold


# --- Counts that say what they count ----------------------------------------------------------


def test_provider_counts_say_what_they_count(client, two_customers, alice_manager):
    """The issue: "Breached 2" beside "Open breaches 1". One counts targets this period, the
    other breaches not closed yet; the labels say so."""
    client.force_login(alice_manager)
    html = client.get(DASHBOARD).content.decode()
    assert "Targets with threshold breached this period" in html
    assert "Open breaches (ticket or period not closed yet)" in html
    assert ">Breached<" not in html and "> Breached</span>" not in html


@settings(max_examples=200, deadline=None)
@given(
    threshold=st.floats(min_value=0, max_value=99.99),
    gap=st.floats(min_value=0.001, max_value=50),
    value=st.one_of(st.none(), st.floats(min_value=0, max_value=100)),
)
def test_a_share_gauge_is_honest_or_says_where_it_starts(threshold, gap, value):
    """Any share: the axis ends at 100 %, starts at 0 % unless target and threshold would be
    indistinguishable (then it starts at a round number and says so), holds the value, and
    puts the target right of the threshold."""
    target = min(threshold + gap, 100.0)
    assume(target > threshold)
    bottom, top, broken = gauge_scale(value, target, threshold, "percent", True)
    assert top == 100.0
    assert broken == (bottom > 0)
    if not broken:
        assert bottom == 0.0
    assert bottom <= threshold and (value is None or bottom <= value)
    row = _period(goal_target=target, goal_threshold=threshold, value=value)
    gauge = gauge_for(row)
    assert not gauge.clipped
    assert gauge.threshold <= gauge.target
    assert (gauge.note != "") == gauge.broken
