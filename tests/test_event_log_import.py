"""Event-log imports (one row per state change, like a Jira changelog): the pure fold, the
browser flow (upload → columns → state roles with a preview → import job) and the command."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from monitoring.importers import ImportOptionError
from monitoring.importers import event_log as el
from monitoring.importers import generic_csv as gc
from monitoring.importers.common import open_text
from monitoring.importers.folding import StateEvent, fold_events
from monitoring.importers.servicenow import parse_incident_log
from monitoring.models import ImportJob, Source, Ticket, TicketPause
from monitoring.models.imports import ColumnMapping
from monitoring.tasks import run_import_job
from tests.support.data import SHARED_DATA

DATA = Path(__file__).parent / "data"
JIRA = DATA / "jira-changelog.csv"
JIRA_BAD = DATA / "jira-changelog-bad.csv"
UCI = SHARED_DATA / "uci-incident-log" / "incident_event_log.csv.zip"

JIRA_MAPPING = {
    "external_id": "Issue key",
    "at": "Changed",
    "state": "Status",
    "opened_at": "Created",
    "priority": "Priority",
    "category": "Issue Type",
    "service": "Service",
}
JIRA_ROLES = {
    "Open": "new",
    "In Progress": "open",
    "Reopened": "open",
    "Waiting for customer": "paused",
    "Waiting for vendor": "paused",
    "Resolved": "resolved",
    "Done": "resolved",
    "Closed": "closed",
}
BERLIN = "Europe/Berlin"


def at(hour: int, minute: int = 0, day: int = 2) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


def parse(path: Path = JIRA, **options) -> el.EventLogResult:
    options.setdefault("timezone", BERLIN)
    return el.parse_event_log(path, JIRA_MAPPING, JIRA_ROLES, **options)


def ticket(result: el.EventLogResult, external_id: str) -> dict:
    return next(row for row in result.rows if row["external_id"] == external_id)


# --- the pure fold ---------------------------------------------------------------------------

ROLES = {"New": "new", "Work": "open", "Wait": "paused", "Fixed": "resolved", "Shut": "closed"}


def test_fold_orders_events_collapses_repeats_and_flags_pauses():
    events = [
        StateEvent(at(10), "Wait", line=3),
        StateEvent(at(9), "New", line=1),
        StateEvent(at(9, 30), "Work", line=2),
        StateEvent(at(10, 5), "Wait", line=4),
        StateEvent(at(11), "Work", line=5),
    ]
    timeline = fold_events(events, ROLES)
    assert [(h["status"], h["pauses_clock"], h["resolves"]) for h in timeline.history] == [
        ("New", False, False),
        ("Work", False, False),
        ("Wait", True, False),
        ("Work", False, False),
    ]
    assert timeline.collapsed == 1
    assert timeline.first_response_at == at(9, 30)
    assert (timeline.resolved_at, timeline.closed_at, timeline.reopen_count) == (None, None, 0)


def test_resolved_then_closed_is_one_resolution_that_started_when_resolved():
    events = [StateEvent(at(9), "New"), StateEvent(at(10), "Fixed"), StateEvent(at(12), "Shut")]
    timeline = fold_events(events, ROLES)
    assert (timeline.resolved_at, timeline.closed_at) == (at(10), at(12))
    assert [h["resolves"] for h in timeline.history] == [False, True, True]


def test_reopening_counts_and_only_the_last_resolution_stands():
    events = [
        StateEvent(at(9), "Work"),
        StateEvent(at(10), "Fixed"),
        StateEvent(at(11), "Work"),
        StateEvent(at(12), "Shut"),
        StateEvent(at(13), "Work"),
        StateEvent(at(14), "Fixed"),
    ]
    timeline = fold_events(events, ROLES)
    assert timeline.reopen_count == 2
    assert (timeline.resolved_at, timeline.closed_at) == (at(14), None)
    still_open = fold_events(events[:-1], ROLES)
    assert (still_open.resolved_at, still_open.closed_at, still_open.reopen_count) == (
        None,
        None,
        2,
    )


def test_first_response_is_unknown_without_a_new_state():
    events = [StateEvent(at(9), "Work"), StateEvent(at(10), "Fixed")]
    assert fold_events(events, {**ROLES, "New": "open"}).first_response_at is None
    # With a new state known, a ticket whose log starts past it responded at its first event.
    assert fold_events(events, ROLES).first_response_at == at(9)


def test_equal_timestamps_keep_the_file_order():
    events = [StateEvent(at(11), "Work", line=9), StateEvent(at(11), "Fixed", line=8)]
    assert [h["status"] for h in fold_events(events, ROLES).history] == ["Fixed", "Work"]


# --- the parser on a Jira changelog ----------------------------------------------------------


def test_columns_and_state_roles_are_guessed_from_names():
    header = gc.read_header(JIRA)
    assert el.guess_mapping(header) == JIRA_MAPPING
    states = el.count_states(JIRA, "Status")
    assert states == {
        "In Progress": 6,
        "Open": 5,
        "Resolved": 3,
        "Waiting for customer": 2,
        "Closed": 1,
        "Reopened": 1,
        "Waiting for vendor": 1,
        "Done": 1,
    }
    assert {state: el.guess_role(state) for state in states} == JIRA_ROLES


def test_jira_changelog_folds_into_tickets_with_histories():
    result = parse()
    assert result.errors == [] and result.date_format == gc.DAYFIRST
    assert (result.records, result.tickets, len(result.rows)) == (20, 4, 4)

    sup101 = ticket(result, "SUP-101")  # Berlin is UTC+1 in early March
    assert sup101["opened_at"] == at(8)
    assert sup101["first_response_at"] == at(8, 20)
    assert (sup101["resolved_at"], sup101["closed_at"]) == (
        at(14),
        datetime(2026, 3, 3, 8, 0, tzinfo=UTC),
    )
    assert (sup101["priority"], sup101["category"], sup101["service"]) == (
        "P2",
        "Incident",
        "Customer Portal",
    )
    assert [(h["status"], h["pauses_clock"]) for h in sup101["status_history"]][2:4] == [
        ("Waiting for customer", True),
        ("In Progress", False),
    ]

    sup102 = ticket(result, "SUP-102")  # resolved, reopened, resolved again
    assert sup102["reopen_count"] == 1 and sup102["priority"] == "P1"
    assert sup102["resolved_at"] == datetime(2026, 3, 16, 11, 30, tzinfo=UTC)

    sup103 = ticket(result, "SUP-103")  # still waiting: open, paused, no service
    assert sup103["resolved_at"] is None and sup103["service"] == ""
    assert [h["pauses_clock"] for h in sup103["status_history"]] == [False, False, True, True]

    sup104 = ticket(result, "SUP-104")  # repeated Open collapsed; after the clock change
    assert [h["status"] for h in sup104["status_history"]] == ["Open", "In Progress", "Done"]
    assert sup104["resolved_at"] == datetime(2026, 3, 31, 10, 0, tzinfo=UTC)
    assert result.notes["EL-R1"] == 1


def test_opened_at_defaults_to_the_first_event_without_an_opened_column():
    mapping = {key: column for key, column in JIRA_MAPPING.items() if key != "opened_at"}
    result = el.parse_event_log(JIRA, mapping, JIRA_ROLES, timezone=BERLIN)
    assert ticket(result, "SUP-101")["opened_at"] == at(8)


def test_an_unmapped_state_is_a_clear_row_error_and_its_ticket_is_left_out():
    result = parse(JIRA_BAD)
    assert result.unmapped == ["Escalated to L3"]
    unknown = result.errors[0]
    assert (unknown.line, unknown.field) == (3, "Status")
    assert "SUP-201: state 'Escalated to L3' is not in the state mapping" in unknown.reason
    assert [row["external_id"] for row in result.rows] == ["SUP-203"]
    assert result.problem_tickets == 2


def test_an_event_before_the_opening_is_an_error():
    result = parse(JIRA_BAD)
    early = result.errors[1]
    assert (early.line, early.field) == (6, "Changed")
    assert early.reason == (
        "SUP-202: 'Resolved' at 2026-03-16 08:00 is before the ticket was opened (2026-03-16 10:00)"
    )


def test_naive_timestamps_without_a_zone_are_errors():
    result = el.parse_event_log(JIRA, JIRA_MAPPING, JIRA_ROLES)
    assert result.rows == [] and result.needs_timezone
    assert (result.errors[0].line, result.errors[0].field) == (2, "Changed")
    assert "has no time zone" in result.errors[0].reason


def test_bad_cells_are_reported_with_line_and_column():
    text = (
        "Key,When,State,Prio,CSAT\n"
        "A-1,2026-03-02T09:00:00Z,Open,Whenever,\n"
        "A-1,yesterday,Done,,9\n"
        ",2026-03-02T09:00:00Z,Open,,\n"
        "A-2,2026-03-02T09:00:00Z,,,\n"
    )
    mapping = {"external_id": "Key", "at": "When", "state": "State", "priority": "Prio"}
    result = el.parse_event_log(
        io.StringIO(text),
        {**mapping, "csat": "CSAT"},
        {"Open": "new", "Done": "resolved"},
        date_format=gc.ISO,
    )
    assert [(e.line, e.field) for e in result.errors] == [
        (2, "Prio"),
        (3, "CSAT"),
        (3, "When"),
        (4, "Key"),
        (5, "State"),
    ]
    assert result.rows == [] and result.problem_tickets == 2


def test_mapping_and_role_mistakes_are_option_errors():
    with pytest.raises(ImportOptionError, match="required field"):
        el.parse_event_log(JIRA, {"external_id": "Issue key"}, JIRA_ROLES)
    with pytest.raises(ImportOptionError, match="not in the file"):
        el.parse_event_log(JIRA, {**JIRA_MAPPING, "state": "Resolution"}, JIRA_ROLES)
    with pytest.raises(ImportOptionError, match="Unknown state role"):
        el.parse_event_log(JIRA, JIRA_MAPPING, {"Open": "sleeping"})


def _uci_slice(lines: int = 3000) -> str:
    # The header and the first ``lines`` records (no quoted cell spans lines in this export).
    text = open_text(UCI)
    return "".join(next(text) for _ in range(lines + 1))


def test_the_uci_servicenow_log_works_through_the_generic_event_log_path():
    text = _uci_slice()
    mapping = el.guess_mapping(gc.read_header(io.StringIO(text)))
    assert mapping == {
        "external_id": "number",
        "at": "sys_updated_at",
        "state": "incident_state",
        "opened_at": "opened_at",
        "priority": "priority",
        "category": "category",
    }
    roles = {
        state: el.guess_role(state)
        for state in el.count_states(io.StringIO(text), "incident_state")
    }
    assert roles == {
        "New": "new",
        "Active": "open",
        "Awaiting User Info": "paused",
        "Awaiting Problem": "paused",
        "Resolved": "resolved",
        "Closed": "closed",
    }
    generic = el.parse_event_log(io.StringIO(text), mapping, roles, timezone="UTC")
    native = parse_incident_log(io.StringIO(text), timezone="UTC")
    assert generic.date_format == gc.DAYFIRST
    # The same five rows stamped before their incident's opening; here the ticket is left out.
    assert [e.line for e in generic.errors] == [e.line for e in native.errors]
    assert generic.tickets == len(native.rows) == 447 and len(generic.rows) == 442

    by_id = {row["external_id"]: row for row in native.rows}
    for row in generic.rows:
        same = by_id[row["external_id"]]
        for name in ("opened_at", "first_response_at", "priority", "category", "status_history"):
            assert row[name] == same[name], (row["external_id"], name)
    # resolved_at and reopen_count come from the history, not from ServiceNow's own columns:
    # INC0000137 went New → Resolved → New → Closed, a reopen its reopen_count column omits.
    reopened = next(row for row in generic.rows if row["external_id"] == "INC0000137")
    assert reopened["reopen_count"] == 1 and by_id["INC0000137"]["reopen_count"] == 0
    assert reopened["resolved_at"] == datetime(2016, 3, 5, 12, 0, tzinfo=UTC)
    agree = sum(
        row["resolved_at"] == by_id[row["external_id"]]["resolved_at"] for row in generic.rows
    )
    assert agree >= 0.95 * len(generic.rows)


# --- the browser flow ------------------------------------------------------------------------


@pytest.fixture
def media(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def jira_source(acme) -> Source:
    return Source.objects.create(customer=acme, name="Jira", kind=Source.Kind.JIRA)


def upload(client, source: Source, path: Path = JIRA, **extra) -> str:
    response = client.post(
        reverse("monitoring:event-log-upload"),
        {"source": source.pk, "file": SimpleUploadedFile(path.name, path.read_bytes()), **extra},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    return response["Location"]


def columns_post(**overrides) -> dict[str, str]:
    data = {f"map_{name}": column for name, column in JIRA_MAPPING.items()}
    return {**data, "date_format": "auto", "timezone": BERLIN, **overrides}


def states_post(client, location: str, **overrides) -> dict[str, str]:
    """The state form as the page offers it (the guessed roles), with ``overrides``."""
    form = client.get(location).context["form"]
    return {**{name: form.initial[name] for name in form.fields if name.startswith("state_")},
            "save_name": "", "action": "preview", **overrides}  # fmt: skip


@pytest.mark.django_db
def test_customers_and_team_members_get_403(client, carol_customer, tom_team):
    for user in (carol_customer, tom_team):
        client.force_login(user)
        assert client.get(reverse("monitoring:event-log-upload")).status_code == 403
        url = reverse("monitoring:event-log-states", args=["anything"])
        assert client.get(url).status_code == 403


@pytest.mark.django_db(transaction=True)
def test_upload_map_columns_mark_states_preview_save_and_import(
    client, media, alice_manager, jira_source, acme_agreement, monkeypatch
):
    enqueued: list[int] = []
    monkeypatch.setattr(run_import_job, "delay", enqueued.append)
    client.force_login(alice_manager)
    location = upload(client, jira_source)

    # Step 1: the columns are guessed from the header; naive dates need a zone.
    page = client.get(location).content.decode()
    assert '<option value="Changed" selected>' in page
    assert '<option value="Status" selected>' in page
    page = client.post(location, columns_post(timezone="")).content.decode()
    assert "The dates carry no time zone: choose one." in page
    response = client.post(location, columns_post())
    states_url = reverse("monitoring:event-log-states", args=[location.rstrip("/").split("/")[-1]])
    assert response.status_code == 302 and response["Location"] == states_url

    # Step 2: every state with its row count and a guessed role; the preview folds tickets.
    response = client.get(states_url)
    page = response.content.decode()
    assert 'data-count="In Progress">6<' in page and 'data-count="Waiting for vendor">1<' in page
    form = response.context["form"]
    assert form.roles() == JIRA_ROLES
    assert "Open 2026-03-02 08:00 → In Progress 2026-03-02 08:20 → Waiting for customer" in page
    assert 'data-count="problem-tickets">0<' in page

    # Marking Done as "open" changes the preview: SUP-104 is no longer resolved.
    data = states_post(client, states_url)
    done = f"state_{[state for state, _count in form.states].index('Done')}"
    response = client.post(states_url, {**data, done: "open"})
    sup104 = next(t for t in response.context["result"].preview if t.external_id == "SUP-104")
    assert sup104.values["resolved_at"] is None

    # Save the mapping: columns and state roles, for this source.
    response = client.post(states_url, {**data, "action": "save", "save_name": "Jira changelog"})
    assert response.status_code == 302
    saved = ColumnMapping.objects.get(source=jira_source, name="Jira changelog")
    assert saved.mapping["at"] == "Changed" and saved.mapping[el.STATES_KEY] == JIRA_ROLES
    assert saved.timezone == BERLIN and saved.date_format == "auto"

    # Import: a background job like the other uploads, then the job page.
    response = client.post(states_url, {**data, "action": "import"})
    job = ImportJob.objects.get()
    assert response["Location"] == reverse("monitoring:import-detail", args=[job.pk])
    assert enqueued == [job.pk] and job.options["layout"] == "event_log"
    assert job.options["states"] == JIRA_ROLES and job.options["date_format"] == gc.DAYFIRST
    assert run_import_job(job.pk) is True
    job.refresh_from_db()
    assert job.status == ImportJob.Status.SUCCEEDED, job.error or job.problems
    assert (job.created, job.skipped, job.total, job.percent) == (4, 0, 4, 100)
    assert job.stage == "Done"
    page = client.get(reverse("monitoring:import-detail", args=[job.pk])).content.decode()
    assert "CSV event log (column mapping)" in page
    assert "CSV tickets" not in page

    sup101 = Ticket.objects.get(source=jira_source, external_id="SUP-101")
    assert sup101.state == Ticket.State.CLOSED and sup101.agreement == acme_agreement
    assert [c.status for c in sup101.status_changes.all()][:3] == [
        "Open",
        "In Progress",
        "Waiting for customer",
    ]
    pause = TicketPause.objects.get(ticket=sup101)
    assert (pause.start, pause.end - pause.start) == (at(9), timedelta(hours=3))
    assert Ticket.objects.get(external_id="SUP-102").reopen_count == 1
    sup103 = Ticket.objects.get(external_id="SUP-103")
    assert sup103.state == Ticket.State.OPEN and sup103.pauses.get().end is None
    assert client.get(states_url).status_code == 404  # the pending upload is used up

    # The next upload starts from the saved mapping; ticket-CSV uploads do not offer it.
    again = upload(client, jira_source, mapping=saved.pk)
    assert "starting from the saved mapping “Jira changelog”" in client.get(again).content.decode()
    page = client.get(reverse("monitoring:csv-upload")).content.decode()
    assert "Jira changelog" not in page


@pytest.mark.django_db
def test_problem_rows_block_the_import_unless_skipped(
    client, media, alice_manager, jira_source, monkeypatch
):
    monkeypatch.setattr(run_import_job, "delay", lambda job_id: None)
    client.force_login(alice_manager)
    location = upload(client, jira_source, JIRA_BAD)
    states_url = client.post(location, columns_post())["Location"]
    page = client.get(states_url).content.decode()
    # The unknown state gets a guessed role; mapped as it is, SUP-202 is still refused.
    assert 'data-count="problem-tickets">1<' in page
    assert "<td>6</td><td><code>Changed</code></td>" in page
    assert "is before the ticket was opened" in page

    data = states_post(client, states_url, action="import")
    page = client.post(states_url, data).content.decode()
    assert "1 ticket(s) have problem rows" in page and not ImportJob.objects.exists()

    client.post(states_url, {**data, "skip_invalid": "on"})
    job = ImportJob.objects.get()
    assert run_import_job(job.pk) is True
    job.refresh_from_db()
    assert (job.status, job.created, job.skipped) == (ImportJob.Status.SUCCEEDED, 2, 1)
    assert job.problems == [
        "skipped line 6: Changed: SUP-202: 'Resolved' at 2026-03-16 08:00 is before the ticket "
        "was opened (2026-03-16 10:00)"
    ]


@pytest.mark.django_db
def test_uploads_are_private_and_kinds_do_not_mix(
    client, media, alice_manager, ada_admin, jira_source
):
    client.force_login(alice_manager)
    location = upload(client, jira_source)
    token = location.rstrip("/").split("/")[-1]
    # A pending event log is not a ticket CSV, and another user cannot reach it at all.
    assert client.get(reverse("monitoring:csv-mapping", args=[token])).status_code == 404
    client.force_login(ada_admin)
    assert client.get(location).status_code == 404
    states_url = reverse("monitoring:event-log-states", args=[token])
    assert client.get(states_url).status_code == 404


# --- the command -----------------------------------------------------------------------------


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=out)
    return out.getvalue()


@pytest.fixture
def saved_mapping(jira_source) -> ColumnMapping:
    return ColumnMapping.objects.create(
        source=jira_source,
        name="Jira changelog",
        mapping={**JIRA_MAPPING, el.STATES_KEY: JIRA_ROLES},
        date_format="auto",
        timezone=BERLIN,
    )


def command(path: Path, *extra: str) -> list[str]:
    base = ["import_event_log", str(path), "--customer", "acme", "--source", "Jira"]
    return [*base, "--mapping", "Jira changelog", *extra]


@pytest.mark.django_db
def test_command_imports_with_a_saved_mapping_and_reimports_unchanged(
    saved_mapping, acme_agreement
):
    output = run(*command(JIRA))
    assert "Read 20 events of 4 tickets: 4 tickets folded" in output and "4 created" in output
    assert Ticket.objects.get(external_id="SUP-102").reopen_count == 1
    assert TicketPause.objects.filter(ticket__source=saved_mapping.source).count() == 2
    assert "0 created, 0 updated, 4 unchanged" in run(*command(JIRA))


@pytest.mark.django_db
def test_command_refuses_problem_rows_unless_told_to_skip(saved_mapping):
    with pytest.raises(CommandError, match="Nothing was imported: 2 problem"):
        run(*command(JIRA_BAD))
    assert not Ticket.objects.exists()
    output = run(*command(JIRA_BAD, "--skip-invalid-rows"))
    assert "States not in the mapping" in output and "'Escalated to L3'" in output
    assert "skipped line 3: Status: SUP-201: state 'Escalated to L3'" in output
    assert list(Ticket.objects.values_list("external_id", flat=True)) == ["SUP-203"]


@pytest.mark.django_db
def test_command_needs_an_existing_event_log_mapping_and_a_zone(saved_mapping, acme_agreement):
    with pytest.raises(CommandError, match="No event-log mapping 'Zammad'"):
        run(*command(JIRA)[:-2], "--mapping", "Zammad")
    with pytest.raises(CommandError, match="No source 'Nope'"):
        run("import_event_log", str(JIRA), "--customer", "acme", "--source", "Nope",
            "--mapping", "x")  # fmt: skip
    saved_mapping.timezone = ""
    saved_mapping.save()
    with pytest.raises(CommandError, match="--timezone"):
        run(*command(JIRA))
    assert "4 created" in run(*command(JIRA, "--timezone", BERLIN))
