"""Payloads of third-party monitors turned into check rows (pure: no Django import).

Each adapter returns ``(service name, row)`` pairs whose rows have the shape
``checks_ingest`` takes (``checked_at`` as an aware datetime, ``status``, ``response_ms``), so
outages are derived by the ingest core exactly as for any other check feed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

__all__ = [
    "AdapterError",
    "AlertmanagerResult",
    "ServiceMatch",
    "alertmanager_rows",
    "match_services",
    "normalise_service_name",
    "service_map_errors",
    "uptime_kuma_rows",
]

Row = dict[str, Any]

# Uptime Kuma heartbeat states. PENDING is a failed check still inside the monitor's retry
# count; the service did not answer, so for an SLA it is down.
KUMA_STATUSES = {0: "down", 1: "up", 2: "down", 3: "maintenance"}


class AdapterError(ValueError):
    """The payload is not what the sender's format promises; ``field`` names the place."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}")


def _mapping(value: Any, where: str) -> Mapping:
    if not isinstance(value, Mapping):
        raise AdapterError(where, "expected an object")
    return value


def _time(value: Any, where: str, zone: tzinfo) -> datetime:
    """An aware UTC datetime; naive values are read in ``zone``."""
    if not isinstance(value, str) or not value.strip():
        raise AdapterError(where, "expected a timestamp")
    try:
        # Python 3.11 reads "YYYY-MM-DD HH:MM:SS.fff", "Z" and Go's nanosecond fractions.
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise AdapterError(where, f"not a timestamp: {value!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone)
    return parsed.astimezone(UTC)


# --- Uptime Kuma ---------------------------------------------------------------------------


def uptime_kuma_rows(payload: Any, zone: tzinfo = UTC) -> list[tuple[str, Row]]:
    """The one check in an Uptime Kuma webhook notification, named by its monitor.

    ``heartbeat.time`` carries no zone; it is read in ``zone`` (the source's). A notification
    without a heartbeat is Uptime Kuma's "Test" button: no check, so an empty list."""
    body = _mapping(payload, "")
    heartbeat = body.get("heartbeat")
    if heartbeat is None:
        return []
    heartbeat = _mapping(heartbeat, "heartbeat")
    monitor = _mapping(body.get("monitor"), "monitor")
    name = monitor.get("name")
    if not isinstance(name, str) or not name.strip():
        raise AdapterError("monitor.name", "required")
    status = heartbeat.get("status")
    # bool is an int: True must not pass for "up".
    if isinstance(status, bool) or status not in KUMA_STATUSES:
        raise AdapterError("heartbeat.status", "expected 0 (down), 1 (up), 2 (pending) or 3")
    ping = heartbeat.get("ping")
    response_ms = None
    if isinstance(ping, int | float) and not isinstance(ping, bool) and ping >= 0:
        response_ms = round(ping)
    row = {
        "checked_at": _time(heartbeat.get("time"), "heartbeat.time", zone),
        "status": KUMA_STATUSES[status],
        "response_ms": response_ms,
    }
    return [(name.strip(), row)]


# --- Prometheus Alertmanager ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AlertmanagerResult:
    """Check rows of an Alertmanager notification, and the alerts left out with the reason."""

    rows: list[tuple[str, Row]] = field(default_factory=list)
    ignored: list[dict[str, Any]] = field(default_factory=list)
    # Which alerts (by index, with their alertname) named each service, so alerts of a
    # service that is refused can be listed one by one.
    alerts: dict[str, list[tuple[int, str]]] = field(default_factory=dict)


def alertmanager_rows(
    payload: Any, service: str | None = None, for_seconds: int = 0
) -> AlertmanagerResult:
    """Check rows for the alerts of an Alertmanager webhook notification.

    A firing alert means its service is down from ``startsAt``: a ``down`` check there. A
    resolved alert gives that ``down`` check again and an ``up`` check at ``endsAt``, so the
    outage is whole even when the firing notification was lost (re-sending a check changes
    nothing). The service is ``service`` when given (the receiver URL's ``?service=``), else
    the alert's ``service`` label; alerts with neither are listed in ``ignored``, because one
    unrelated alert must not make Alertmanager retry the whole group forever.

    ``for_seconds`` is subtracted from ``startsAt``: Prometheus fires an alert only after its
    rule's ``for:`` held, so ``startsAt`` is that much later than the service went down."""
    body = _mapping(payload, "")
    alerts = body.get("alerts")
    if not isinstance(alerts, list):
        raise AdapterError("alerts", "expected a list")
    # One check per (service, time): several alerts of a service may start together. Down
    # wins over up at the same instant, the cautious reading for an SLA.
    checks: dict[tuple[str, datetime], str] = {}
    ignored: list[dict[str, Any]] = []
    named: dict[str, list[tuple[int, str]]] = {}
    pending = timedelta(seconds=max(0, for_seconds))
    for index, raw in enumerate(alerts):
        where = f"alerts[{index}]"
        alert = _mapping(raw, where)
        labels = _mapping(alert.get("labels") or {}, f"{where}.labels")
        name = service or labels.get("service")
        if not isinstance(name, str) or not name.strip():
            ignored.append(
                {
                    "index": index,
                    "alertname": labels.get("alertname", ""),
                    "fingerprint": alert.get("fingerprint", ""),
                    "reason": "no service label and no ?service= parameter",
                }
            )
            continue
        name = name.strip()
        state = alert.get("status")
        if state not in ("firing", "resolved"):
            raise AdapterError(f"{where}.status", "expected firing or resolved")
        started = _time(alert.get("startsAt"), f"{where}.startsAt", UTC) - pending
        alertname = labels.get("alertname", "")
        named.setdefault(name, []).append((index, alertname if isinstance(alertname, str) else ""))
        checks[(name, started)] = "down"
        if state == "resolved":
            ended = _time(alert.get("endsAt"), f"{where}.endsAt", UTC)
            if ended <= started:
                raise AdapterError(f"{where}.endsAt", "a resolved alert must end after it starts")
            checks.setdefault((name, ended), "up")
    rows = [
        (name, {"checked_at": at, "status": status, "response_ms": None})
        for (name, at), status in sorted(checks.items(), key=lambda item: item[0][1])
    ]
    return AlertmanagerResult(rows, ignored, named)


# --- Service names -------------------------------------------------------------------------


def normalise_service_name(name: str) -> str:
    """``name`` compared the way people read it: case and runs of spaces do not matter."""
    return " ".join(name.split()).casefold()


@dataclass(frozen=True, slots=True)
class ServiceMatch:
    """Sent names resolved to catalogue names, and the names refused with the reason."""

    found: dict[str, str] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)


NOT_COVERED = "no agreement of the source's customer covers this service"


def match_services(
    names: set[str], covered: set[str], service_map: Mapping[str, str] | None = None
) -> ServiceMatch:
    """Resolve sender names to the ``covered`` service names (the source customer's).

    A name is first looked up in the source's ``service_map`` (keys compared normalised),
    then compared normalised with the covered names ("toy  API" is "Toy API"). Two covered
    services equal after normalisation make the name ambiguous: refused, with both names,
    rather than guessed."""
    by_key: dict[str, list[str]] = {}
    for candidate in sorted(covered):
        by_key.setdefault(normalise_service_name(candidate), []).append(candidate)
    mapped = {
        normalise_service_name(str(key)): str(value) for key, value in (service_map or {}).items()
    }
    found: dict[str, str] = {}
    refused: dict[str, str] = {}
    for name in names:
        target = mapped.get(normalise_service_name(name), name)
        candidates = by_key.get(normalise_service_name(target), [])
        if len(candidates) == 1:
            found[name] = candidates[0]
        elif candidates:
            listed = " and ".join(f"“{candidate}”" for candidate in candidates)
            refused[name] = (
                f"ambiguous: {listed} differ only in case or spacing; "
                "map this label value to one of them on the source"
            )
        elif target != name:
            refused[name] = f"mapped to “{target}”, but {NOT_COVERED}"
        else:
            refused[name] = NOT_COVERED
    return ServiceMatch(found, refused)


MAX_SERVICE_MAP_ENTRIES = 200


def service_map_errors(mapping: Any, covered: set[str]) -> list[str]:
    """Why ``mapping`` (label value -> service name) cannot be a source's service map: every
    value must name exactly one ``covered`` service, and no label value may appear twice
    after normalisation. An empty list when it can."""
    if not isinstance(mapping, Mapping):
        return ["expected an object of label value → service name"]
    if len(mapping) > MAX_SERVICE_MAP_ENTRIES:
        return [f"at most {MAX_SERVICE_MAP_ENTRIES} entries"]
    errors: list[str] = []
    seen: dict[str, str] = {}
    for key, value in mapping.items():
        if not isinstance(key, str) or not key.strip() or len(key) > 200:
            errors.append(f"{key!r}: a label value is 1 to 200 characters")
            continue
        if not isinstance(value, str) or not value.strip():
            errors.append(f"{key}: map it to a service name")
            continue
        normal = normalise_service_name(key)
        if normal in seen:
            errors.append(f"{key}: the same label value as “{seen[normal]}”")
            continue
        seen[normal] = key
        refused = match_services({value}, covered).refused.get(value)
        if refused:
            errors.append(f"{key} → {value}: {refused}")
    return errors
