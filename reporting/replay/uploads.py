"""Replaying on an uploaded export instead of (on top of) the history already held.

The export is read by the importers the Sources pages use (``monitoring.importers``) and
ingested by the same all-or-nothing ingest (``monitoring.imports.import_checks``) into a
source of the customer's that exists only inside one transaction: the replay runs there,
so ``measure`` sees the export as it would see any imported history, and the transaction is
then rolled back. Nothing of the file stays in the database; the file itself is deleted
once read. Parsing and ingesting take seconds for a large export, so an upload always runs
as a Celery task with its progress on its ``ReplayRun`` row.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import logging
import zipfile
import zlib
from datetime import date
from pathlib import PurePath

from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction

from agreements.models import Agreement, Service
from monitoring.importers import ChecksResult, healthcheck, upptime
from monitoring.imports import ImportRefused, import_checks
from monitoring.models import Source
from reporting.enqueue import replay_upload_enqueue
from reporting.models import ReplayRun
from reporting.replay.runs import (
    ReplayError,
    ReplayRequest,
    cached,
    claim_run,
    proposed_snapshot,
    replay_key,
    run_finished,
    run_replay,
    run_started,
    set_progress,
)

logger = logging.getLogger(__name__)

# Check exports a replay reads: the format, and its parser.
FORMATS = {
    "healthcheck": ("Health-check log (key, check_time_utc_minute, result)", healthcheck),
    "upptime": ("Upptime status changes", upptime),
}
SUFFIXES = (".csv", ".csv.gz", ".gz", ".zip")
MAX_UPLOAD_BYTES = 50 * 1024 * 1024
# What an export may hold once decompressed, checked while it is read (a 50 MB gzip of
# repeated lines would otherwise inflate to gigabytes in the worker's memory): 128 MB and
# two million rows (a year of minute checks of three monitors and more).
MAX_TEXT_BYTES = 128 * 1024 * 1024
MAX_ROWS = 2_000_000
CHUNK = 1024 * 1024
# A task that finds its replay already running was delivered again after its worker died
# (acks_late): it is not tried a second time, the replay fails with this reason.
CRASHED = (
    "the replay stopped its worker (the export may be too large to replay); "
    "try again with a smaller export"
)


def _limited(stream, what: str) -> bytes:
    """Read ``stream`` up to the limits, refusing (with the reason) past them."""
    parts, size, rows = [], 0, 0
    while chunk := stream.read(CHUNK):
        size += len(chunk)
        rows += chunk.count(b"\n")
        if size > MAX_TEXT_BYTES:
            raise ImportRefused(
                [f"{what} holds more than {MAX_TEXT_BYTES // (1024 * 1024)} MB once unpacked"]
            )
        if rows > MAX_ROWS:
            raise ImportRefused([f"{what} holds more than {MAX_ROWS:,} rows"])
        parts.append(chunk)
    return b"".join(parts)


def read_export(path: str) -> bytes:
    """The export's text, unpacked from gzip or zip with the size and row limits applied
    while reading; anything else (a damaged archive, a zip of several files) is left to the
    importer, which says what is wrong with it."""
    with open(path, "rb") as handle:
        magic = handle.read(2)
        handle.seek(0)
        try:
            if magic == b"\x1f\x8b":
                with gzip.GzipFile(fileobj=handle) as unpacked:
                    return _limited(unpacked, "The export")
            if magic == b"PK":
                with zipfile.ZipFile(handle) as archive:
                    names = [
                        n
                        for n in archive.namelist()
                        if not n.startswith("__MACOSX/") and n.lower().endswith(".csv")
                    ]
                    if len(names) == 1:
                        with archive.open(names[0]) as member:
                            return _limited(member, f"The export's {names[0]}")
                handle.seek(0)
                return handle.read()
        except (OSError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
            raise ImportRefused(
                [f"the archive is damaged or truncated ({exc}): download or copy it again"]
            ) from None
        return _limited(handle, "The export")


def _parse(fmt: str, path: str) -> ChecksResult:
    module = FORMATS[fmt][1]
    text = io.BytesIO(read_export(path))
    if fmt == "healthcheck":
        return module.parse_checks(text)
    return module.parse_status_changes(text)


def replay_upload_start(
    user,
    agreement: Agreement,
    request: ReplayRequest,
    upload: UploadedFile,
    fmt: str,
    monitor: str,
    service: str,
) -> str:
    """Check what can be checked at once, store the file and queue the replay; return the
    key to poll (``progress_of`` / ``cached``)."""
    if fmt not in FORMATS:
        raise ReplayError("format", f"Choose one of: {', '.join(sorted(FORMATS))}.")
    name = upload.name or "export.csv"
    if not name.lower().endswith(SUFFIXES):
        raise ReplayError("file", "Upload a .csv, .csv.gz or .zip export.")
    if upload.size > MAX_UPLOAD_BYTES:
        raise ReplayError("file", "The export is larger than 50 MB.")
    services = dict(agreement.services.values_list("name", "pk"))
    if service not in services:
        raise ReplayError("service", "Choose one of the agreement's services.")
    snapshot, label = proposed_snapshot(user, agreement, request.source)
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    key = (
        replay_key(agreement, snapshot, request)
        + ":"
        + hashlib.sha256(f"{digest.hexdigest()}|{fmt}|{monitor}|{service}".encode()).hexdigest()[
            :16
        ]
    )
    if cached(key) is not None:
        return key
    if ReplayRun.objects.filter(
        key=key, state__in=(ReplayRun.State.QUEUED, ReplayRun.State.RUNNING)
    ).exists():
        # The same export is already being replayed: follow that run, store nothing more.
        return key
    suffix = "".join(PurePath(name).suffixes[-2:]) or ".csv"
    path = default_storage.save(f"replay-uploads/{key.replace(':', '-')}{suffix}", upload)
    run_started(key, agreement)
    replay_upload_enqueue(
        agreement.pk,
        snapshot,
        label,
        [request.source, request.periods, request.until.isoformat()],
        [path, fmt, monitor, service],
        key,
    )
    return key


def replay_upload_poll(agreement: Agreement, key: str) -> dict | None:
    """The result of the upload replay ``key`` of ``agreement`` (None while it runs); a key
    of another agreement, or one long expired, is not found."""
    if not ReplayRun.objects.filter(key=key, agreement=agreement).exists():
        raise ReplayError("upload", "No such replay of an upload (it may have expired).", 404)
    return cached(key)


def replay_upload_in_task(
    agreement_id: int, snapshot: dict, label: str, asked: list, export: list, key: str
) -> None:
    """The queued replay on an upload: parse, ingest in a transaction, replay, roll back.
    The file is deleted whatever happens (done before, refused, failed, crashed before)."""
    path, fmt, monitor, service = export
    try:
        if cached(key) is not None or not claim_run(key, CRASHED):
            return
        request = ReplayRequest(asked[0], int(asked[1]), date.fromisoformat(asked[2]))
        agreement = Agreement.objects.get(pk=agreement_id)
        parsed = _parse(fmt, default_storage.path(path))
        keys = sorted(parsed.checks)
        if not keys:
            raise ImportRefused(["the export holds no checks"])
        chosen = monitor or keys[0]
        if chosen not in parsed.checks:
            raise ImportRefused([f"no monitor {chosen!r} in the export (it has {', '.join(keys)})"])
        parsed.checks = {chosen: parsed.checks[chosen]}
        found = _replay_with(agreement, snapshot, label, request, parsed, chosen, service, key)
    except ImportRefused as exc:
        set_progress(key, 0, 1, "failed", "; ".join(exc.problems)[:300])
        return
    except Exception as exc:  # an unreadable file: the person is told, the log keeps the rest
        logger.exception("replay on upload %s failed", key)
        set_progress(key, 0, 1, "failed", f"The export could not be read: {exc}"[:300])
        return
    finally:
        default_storage.delete(path)
    found["upload"] = {"format": fmt, "monitor": chosen, "service": service}
    run_finished(key, agreement, found)


def _replay_with(
    agreement: Agreement,
    snapshot: dict,
    label: str,
    request: ReplayRequest,
    parsed: ChecksResult,
    monitor: str,
    service: str,
    key: str,
) -> dict:
    total = parsed.count
    # The progress is written on a second connection: the replay's own is inside a
    # transaction nobody else sees (and that is rolled back).
    side = None
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        side = connections.create_connection(DEFAULT_DB_ALIAS)
    try:
        with transaction.atomic():
            source = Source.objects.create(
                customer_id=agreement.customer_id,
                name=f"Uploaded export {key[-8:]}",
                timezone="UTC",
            )
            target = Service.objects.get(name=service)
            import_checks(
                source,
                parsed,
                {monitor: target},
                skip_invalid=True,
                progress=lambda done, _all: set_progress(key, done, total * 2, side=side),
            )
            found = run_replay(
                agreement,
                snapshot,
                label,
                request,
                lambda done, all_: set_progress(
                    key, total + done * total // all_, total * 2, side=side
                ),
            )
            # The export was only lent to the replay: nothing of it stays.
            transaction.set_rollback(True)
    finally:
        if side is not None:
            side.close()
    return found
