"""Recompute stored ticket digests with the canonical formula the ingest now computes in SQL.

Before, a ticket's ``ingest_digest`` hashed a JSON encoding of the row as sent
(``monitoring.ingest.digest.legacy_digest``); now it hashes a canonical text PostgreSQL
builds from the staging tables (``ticket_digest``). Without this migration every unchanged
ticket re-sent after the upgrade would count as updated once (and be re-evaluated).

A stored digest is only replaced when it still describes the row: the legacy digest is
recomputed from the stored values with each history the last send can have had (the stored
status changes, no history sent, or an empty one) and the matching one gives the new digest.
A digest that matches none (the row was changed outside the ingest) is cleared, so the next
send writes the row, as it would have before.
"""

from django.db import migrations

from monitoring.ingest.digest import DIGEST_FIELDS, legacy_digest, ticket_digest
from monitoring.ingest.history import StatusEntry

CHUNK = 2000


def _candidates(history: list) -> list:
    if history:
        return [history, None]
    return [None, []]


def _new_digest(values: dict, history: list, stored: str) -> str:
    for candidate in _candidates(history):
        if legacy_digest(values, candidate) == stored:
            return ticket_digest(values, candidate)
    return ""


def _write(schema_editor, table: str, pairs: list[tuple[int, str]]) -> None:
    if not pairs:
        return
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            from psycopg2.extras import execute_values

            execute_values(
                cursor.cursor,
                f"UPDATE {table} AS t SET ingest_digest = v.d FROM (VALUES %s) AS v(id, d)"
                " WHERE t.id = v.id",
                pairs,
                page_size=CHUNK,
            )
        else:
            cursor.executemany(
                f"UPDATE {table} SET ingest_digest = %s WHERE id = %s",
                [(digest, pk) for pk, digest in pairs],
            )


def recompute_digests(apps, schema_editor):
    Ticket = apps.get_model("monitoring", "Ticket")
    TicketStatusChange = apps.get_model("monitoring", "TicketStatusChange")
    table = Ticket._meta.db_table
    last = 0
    while True:
        rows = list(
            Ticket.objects.filter(pk__gt=last)
            .exclude(ingest_digest="")
            .order_by("pk")
            .values("pk", "ingest_digest", *DIGEST_FIELDS)[:CHUNK]
        )
        if not rows:
            return
        last = rows[-1]["pk"]
        histories: dict[int, list[StatusEntry]] = {}
        for ticket_id, at, status, pauses, resolves in (
            TicketStatusChange.objects.filter(ticket_id__in=[row["pk"] for row in rows])
            .order_by("ticket_id", "at", "pk")
            .values_list("ticket_id", "at", "status", "pauses_clock", "resolves")
        ):
            histories.setdefault(ticket_id, []).append(StatusEntry(at, status, pauses, resolves))
        pairs = []
        for row in rows:
            pk, stored = row.pop("pk"), row.pop("ingest_digest")
            pairs.append((pk, _new_digest(row, histories.get(pk, []), stored)))
        _write(schema_editor, table, pairs)


class Migration(migrations.Migration):
    dependencies = [
        ("monitoring", "0015_source_secret_encryption_and_replays"),
    ]

    operations = [
        migrations.RunPython(recompute_digests, migrations.RunPython.noop, elidable=True),
    ]
