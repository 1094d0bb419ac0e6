"""Importers over the real exports in shared/data (beside the repository) and over small
hand-made slices."""

from __future__ import annotations

import io
import itertools
import time
from datetime import UTC, datetime

import pytest

from monitoring.importers import healthcheck, statuspage, upptime, uptime_kuma
from monitoring.importers.common import ImportOptionError, ParseError
from monitoring.importers.servicenow import parse_incident_log
from tests.support.data import SHARED_DATA

DATA = SHARED_DATA
UCI = DATA / "uci-incident-log/incident_event_log.csv.zip"
UPTIME = DATA / "uptime"

HEADER = (
    "number,incident_state,reopen_count,sys_mod_count,sys_updated_at,opened_at,category,"
    "priority,resolved_at,closed_at\n"
)


def _log(*rows: str) -> io.StringIO:
    return io.StringIO(HEADER + "".join(row + "\n" for row in rows))


def _downs(rows: list[dict]) -> int:
    """Runs of consecutive down checks: the outages the ingest core will open."""
    return sum(1 for status, _ in itertools.groupby(r["status"] for r in rows) if status == "down")


# --- ServiceNow, real file -------------------------------------------------------------------


@pytest.fixture(scope="module")
def uci():
    started = time.monotonic()
    # The dataset does not say its zone; UTC keeps every wall-clock time valid (see below).
    result = parse_incident_log(UCI, timezone="UTC")
    result.seconds = time.monotonic() - started
    return result


def test_uci_log_folds_into_every_incident_quickly(uci):
    assert len(uci.rows) == 24_918
    assert uci.seconds < 30


def test_uci_incident_0000045_by_hand(uci):
    ticket = next(t for t in uci.rows if t["external_id"] == "INC0000045")
    assert ticket["priority"] == "P3"
    assert ticket["category"] == "Category 55"
    assert ticket["opened_at"] == datetime(2016, 2, 29, 1, 16, tzinfo=UTC)
    # The column holds the last resolution; the history keeps the first Resolved row.
    assert ticket["resolved_at"] == datetime(2016, 2, 29, 11, 29, tzinfo=UTC)
    assert ticket["closed_at"] == datetime(2016, 3, 5, 12, 0, tzinfo=UTC)
    assert ticket["first_response_at"] == datetime(2016, 2, 29, 8, 53, tzinfo=UTC)
    assert ticket["reopen_count"] == 0
    assert [(h["at"].strftime("%d/%m %H:%M"), h["status"]) for h in ticket["status_history"]] == [
        ("29/02 01:23", "New"),
        ("29/02 08:53", "Resolved"),
        ("05/03 12:00", "Closed"),
    ]


def test_uci_pauses_and_priorities(uci):
    pauses = [h for t in uci.rows for h in t["status_history"] if h["pauses_clock"]]
    assert len(pauses) == 6_398
    assert sum(1 for t in uci.rows if any(h["pauses_clock"] for h in t["status_history"])) == 5_825
    by_priority = {
        p: sum(1 for t in uci.rows if t["priority"] == p) for p in ("P1", "P2", "P3", "P4")
    }
    assert by_priority == {"P1": 270, "P2": 408, "P3": 23_466, "P4": 774}
    assert sum(1 for t in uci.rows if t["reopen_count"] > 0) == 275


def test_uci_quirks_are_reported_with_lines(uci):
    assert len(uci.errors) == 10
    unknown = [e for e in uci.errors if e.field == "incident_state"]
    assert [e.line for e in unknown] == [115643, 115644, 124509, 124510, 124511]
    early = [e for e in uci.errors if e.field == "sys_updated_at"]
    assert [e.line for e in early] == [330, 336, 346, 351, 438]
    assert uci.notes["SN-R2"] == 1_556


def test_uci_read_as_lisbon_time_hits_the_spring_forward_gap():
    # Six incidents have times between 01:00 and 02:00 on 27 March 2016, an hour that did not
    # exist in Lisbon (or anywhere in the EU): reported, never shifted silently.
    result = parse_incident_log(UCI, timezone="Europe/Lisbon")
    gap = [e for e in result.errors if "does not exist" in e.reason]
    assert len(gap) == 12
    assert {e.line for e in gap} == {6598, 17250, 24794, 43334, 43342, 50336, 50337}
    assert len(result.rows) == 24_918


def test_uci_histories_are_time_ordered_and_start_at_or_after_opening(uci):
    for ticket in uci.rows:
        times = [h["at"] for h in ticket["status_history"]]
        assert times == sorted(times)
        assert all(at >= ticket["opened_at"] for at in times)


# --- ServiceNow, hand-made slices ------------------------------------------------------------


def test_naive_log_without_timezone_is_a_clear_error():
    with pytest.raises(ImportOptionError, match="timezone"):
        parse_incident_log(_log())


def test_unknown_timezone_is_a_clear_error():
    with pytest.raises(ImportOptionError, match="Mars/Olympus"):
        parse_incident_log(_log(), timezone="Mars/Olympus")


def test_month_first_dates():
    log = _log(
        "INC1,New,0,0,2/3/2016 09:00,2/3/2016 09:00,Net,1 - Critical,?,2/5/2016 10:00",
        "INC1,Closed,0,1,2/5/2016 10:00,2/3/2016 09:00,Net,1 - Critical,?,2/5/2016 10:00",
    )
    (ticket,) = parse_incident_log(log, timezone="UTC", dayfirst=False).rows
    assert ticket["opened_at"] == datetime(2016, 2, 3, 9, 0, tzinfo=UTC)
    assert ticket["closed_at"] == datetime(2016, 2, 5, 10, 0, tzinfo=UTC)
    # Closed without a Resolved row: the first resolving state supplies resolved_at.
    assert ticket["resolved_at"] == ticket["closed_at"]
    assert ticket["priority"] == "P1"


def test_missing_values_bad_dates_and_unknown_states_are_reported():
    log = _log(
        "INC2,New,0,0,1/3/2016 08:00,1/3/2016 08:00,?,?,?,?",
        "INC2,Awaiting Vendor,0,1,31/2/2016 09:00,1/3/2016 08:00,?,?,?,?",
        "INC2,Paused,0,2,1/3/2016 10:00,1/3/2016 08:00,?,?,?,?",
        "INC2,Awaiting Vendor,1,3,1/3/2016 11:00,1/3/2016 08:00,?,?,?,?",
        "INC3,New,0,0,1/3/2016 08:00,?,Net,3 - Moderate,?,?",
    )
    result = parse_incident_log(log, timezone="UTC")
    (ticket,) = result.rows
    assert ticket["category"] == "" and ticket["priority"] == ""
    assert ticket["resolved_at"] is None and ticket["closed_at"] is None
    assert ticket["reopen_count"] == 1
    assert [h["status"] for h in ticket["status_history"]] == ["New", "Awaiting Vendor"]
    assert ticket["status_history"][1]["pauses_clock"] is True
    assert [(e.line, e.field) for e in result.errors] == [
        (3, "sys_updated_at"),
        (4, "incident_state"),
        (6, "opened_at"),
    ]
    assert all(isinstance(e, ParseError) for e in result.errors)


def test_custom_state_mapping_and_duplicate_rows():
    log = _log(
        "INC4,New,0,0,1/3/2016 08:00,1/3/2016 08:00,Net,2 - High,?,?",
        "INC4,Awaiting User Info,0,1,1/3/2016 09:00,1/3/2016 08:00,Net,2 - High,?,?",
        "INC4,Awaiting User Info,0,1,1/3/2016 09:00,1/3/2016 08:00,Net,2 - High,?,?",
        "INC4,Resolved,0,2,1/3/2016 10:00,1/3/2016 08:00,Net,2 - High,?,?",
    )
    (ticket,) = parse_incident_log(
        log, timezone="UTC", pausing_states={"Awaiting Vendor"}, resolving_states={"Closed"}
    ).rows
    assert [(h["status"], h["pauses_clock"], h["resolves"]) for h in ticket["status_history"]] == [
        ("New", False, False),
        ("Awaiting User Info", False, False),
        ("Resolved", False, False),
    ]
    assert ticket["resolved_at"] is None


def test_time_in_spring_forward_gap_is_an_error():
    log = _log("INC5,New,0,0,27/3/2016 01:30,27/3/2016 01:30,Net,?,?,?")
    result = parse_incident_log(log, timezone="Europe/London")
    assert result.rows == []
    assert result.errors[0].field == "opened_at" and "does not exist" in result.errors[0].reason


def test_binary_and_gzip_streams_are_accepted():
    import gzip

    raw = _log("INC6,New,0,0,1/3/2016 08:00,1/3/2016 08:00,Net,?,?,?").getvalue().encode()
    for payload in (raw, gzip.compress(raw), b"\xef\xbb\xbf" + raw):
        assert len(parse_incident_log(io.BytesIO(payload), timezone="UTC").rows) == 1


# --- Uptime Kuma ------------------------------------------------------------------------------

KUMA = UPTIME / "uptime-kuma-export"


def test_kuma_real_export_pending_as_down():
    result = uptime_kuma.parse_heartbeats(KUMA / "heartbeat.csv", KUMA / "monitor.csv")
    assert result.errors == []
    assert result.count == 2_345
    assert {k: len(v) for k, v in result.checks.items()} == {
        "Domain": 316,
        "Database": 678,
        "LavaLink": 738,
        "MySQL": 613,
    }
    assert result.notes["UK-R1"] == 50
    assert {k: _downs(v) for k, v in result.checks.items()} == {
        "Domain": 7,
        "Database": 2,
        "LavaLink": 8,
        "MySQL": 2,
    }
    maintenance = sum(r["status"] == "maintenance" for v in result.checks.values() for r in v)
    assert maintenance == 882
    first = result.checks["Domain"][0]
    assert first == {
        "checked_at": datetime(2023, 11, 21, 7, 59, 53, 563000, tzinfo=UTC),
        "status": "up",
        "response_ms": 378,
    }


def test_kuma_pending_choices_and_bad_rows():
    heartbeats = io.StringIO(
        "id,monitor_id,status,time,msg,ping,duration,important\n"
        '1,1,2,2023-11-21 08:00:00,"multi\nline",,0,0\n'
        "2,1,9,2023-11-21 08:01:00,x,,0,0\n"
        "3,8,1,2023-11-21 08:02:00,x,12,0,0\n"
        "4,1,1,yesterday,x,12,0,0\n"
    )
    result = uptime_kuma.parse_heartbeats(heartbeats, {"1": "Web"}, pending_as="skip")
    assert result.checks == {}
    assert [(e.line, e.field) for e in result.errors] == [
        (4, "status"),
        (5, "monitor_id"),
        (6, "time"),
    ]
    with pytest.raises(ImportOptionError):
        uptime_kuma.parse_heartbeats(heartbeats, {}, pending_as="maybe")


# --- Health-check log -------------------------------------------------------------------------


def test_healthcheck_real_log():
    result = healthcheck.parse_checks(UPTIME / "devzero-checks.csv.gz")
    assert result.errors == []
    assert {k: len(v) for k, v in result.checks.items()} == {
        "api": 61_124,
        "homepage": 61_122,
        "dashboard": 3,
    }
    assert result.notes["HC-R1"] == 4
    assert {k: _downs(v) for k, v in result.checks.items()} == {
        "api": 12,
        "homepage": 38,
        "dashboard": 1,
    }
    assert result.checks["api"][0] == {
        "checked_at": datetime(2025, 1, 16, 22, 57, tzinfo=UTC),
        "status": "down",
        "response_ms": None,
    }


def test_healthcheck_bad_rows():
    log = io.StringIO(
        "key,check_time_utc_minute,result,commit_time\n"
        "api,2025-01-16 22:57,maybe,x\n"
        "api,16/01/2025 22:57,success,x\n"
        ",2025-01-16 22:57,success,x\n"
        "api,2025-01-16 22:58,success|success,x\n"
    )
    result = healthcheck.parse_checks(log)
    assert [(e.line, e.field) for e in result.errors] == [
        (2, "result"),
        (3, "check_time_utc_minute"),
        (4, "key"),
    ]
    assert result.checks["api"][0]["status"] == "up"


# --- Upptime ----------------------------------------------------------------------------------


def test_upptime_real_history():
    result = upptime.parse_status_changes(UPTIME / "upptime-cloudesire-status-changes.csv")
    assert result.errors == []
    assert result.count == 2_287
    assert {k: _downs(v) for k, v in result.checks.items()} == {
        "https://marketplace.cloudeng.it": 12,
        "https://backend-staging-eng.cloudesire.com": 15,
        "https://vc2.cloudeng.it": 19,
    }
    assert result.checks["https://marketplace.cloudeng.it"][0] == {
        "checked_at": datetime(2024, 4, 23, 14, 49, 19, tzinfo=UTC),
        "status": "up",
        "response_ms": 841,
    }


def test_upptime_degraded_down_and_unknown():
    log = io.StringIO(
        "commit_time,site,emoji_status,response_ms\n"
        "2024-04-23T14:49:19+00:00,s,degraded,9000\n"
        "2024-04-23T14:50:19+00:00,s,down,0\n"
        "2024-04-23T14:51:19+00:00,s,purple,0\n"
        "2024-04-23T14:52:19,s,up,10\n"
    )
    result = upptime.parse_status_changes(log)
    assert [(r["status"], r["response_ms"]) for r in result.checks["s"]] == [
        ("up", 9000),
        ("down", None),
    ]
    assert [(e.line, e.field) for e in result.errors] == [(4, "emoji_status"), (5, "commit_time")]


# --- Statuspage maintenances ------------------------------------------------------------------


def test_statuspage_real_maintenances():
    path = UPTIME / "githubstatus-scheduled-maintenances.csv.gz"
    result = statuspage.parse_maintenances(path)
    assert len(result.rows) == 19
    assert [e.line for e in result.errors] == [8, 9, 10, 12, 14, 16, 17, 18, 19, 20, 21]
    assert result.rows[0] == {
        "external_id": "3jr0nb7zjpbm:GitHub Actions",
        "service": "GitHub Actions",
        "title": "macOS virtual environment maintenance",
        "starts_at": datetime(2020, 12, 15, 10, 0, tzinfo=UTC),
        "ends_at": datetime(2020, 12, 19, 4, 0, tzinfo=UTC),
        "announced_at": datetime(2020, 12, 14, 16, 37, 35, 904000, tzinfo=UTC),
    }
    with_default = statuspage.parse_maintenances(path, default_service="GitHub")
    assert len(with_default.rows) == 30 and with_default.errors == []


def test_statuspage_several_components_and_bad_window():
    csv_text = io.StringIO(
        "id,name,components,created_at,scheduled_for,scheduled_until\n"
        'm1,Upgrade,"Git, API",2024-01-01T00:00:00Z,2024-01-02T00:00:00Z,2024-01-02T01:00:00Z\n'
        "m2,Oops,Git,2024-01-01T00:00:00Z,2024-01-02T01:00:00Z,2024-01-02T00:00:00Z\n"
        "m3,Naive,Git,2024-01-01T00:00:00,2024-01-02T00:00:00Z,2024-01-02T01:00:00Z\n"
    )
    result = statuspage.parse_maintenances(csv_text)
    assert [r["external_id"] for r in result.rows] == ["m1:Git", "m1:API"]
    assert [(e.line, e.field) for e in result.errors] == [(3, "scheduled_until"), (4, "created_at")]
