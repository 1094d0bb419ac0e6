"""Emptying the test database after a test that commits: DELETE, not TRUNCATE.

A test that commits (``django_db(transaction=True)``, ``live_server``, the worker and browser
tests) is followed by Django's ``flush``: one ``TRUNCATE`` of every table (85 of them). On
PostgreSQL a TRUNCATE gives each table and each of its indexes new files, whatever they hold:
0.6-0.9 s on an idle machine, 2-4 s on a busy one, after every such test, to empty tables that
hold a few dozen rows. ``DELETE FROM`` every table in one transaction takes milliseconds.

The next test sees the same database as after ``flush``: every table of the project's models
empty, sequences not reset (Django's teardown flushes with ``reset_sequences=False`` too), and
``post_migrate`` sent again, so content types and permissions are back. The deletes run with
``session_replication_role = replica``, which leaves row triggers unfired as TRUNCATE does: the
append-only triggers of the audit trail and of issued reports refuse a DELETE, and foreign keys
(checked by triggers too) need no order when every row goes. Setting it needs a superuser, as
the test runs have (``postgres``); without one, and in the few cases this does not cover
(another database vendor, a test that asks for sequences reset, ``available_apps``, serialized
rollback), Django's flush runs as before.
"""

from __future__ import annotations

from django.core.management.sql import emit_post_migrate_signal
from django.db import DatabaseError, connections, transaction
from django.test import TransactionTestCase

_django_fixture_teardown = TransactionTestCase._fixture_teardown
# Per database alias: may this connection's role set session_replication_role?
_can_bypass_triggers: dict[str, bool] = {}


def can_bypass_triggers(alias: str) -> bool:
    """Whether the test run's role may leave triggers unfired (a superuser may)."""
    if alias not in _can_bypass_triggers:
        connection = connections[alias]
        try:
            with transaction.atomic(using=alias), connection.cursor() as cursor:
                cursor.execute("SET LOCAL session_replication_role = replica")
        except DatabaseError:
            _can_bypass_triggers[alias] = False
        else:
            _can_bypass_triggers[alias] = True
    return _can_bypass_triggers[alias]


def empty_every_table(alias: str) -> None:
    """Delete every row of every table of the project's models, in one transaction and with
    row triggers unfired, as TRUNCATE leaves them."""
    connection = connections[alias]
    tables = connection.introspection.django_table_names(only_existing=True, include_views=False)
    quote = connection.ops.quote_name
    deletes = "".join(f"DELETE FROM {quote(table)};" for table in sorted(tables))
    with transaction.atomic(using=alias), connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica;" + deletes)


def _fixture_teardown(self: TransactionTestCase) -> None:
    aliases = list(self._databases_names(include_mirrors=False))
    plain = (
        not self.reset_sequences
        and self.available_apps is None
        and not self.serialized_rollback
        and all(connections[alias].vendor == "postgresql" for alias in aliases)
        and all(can_bypass_triggers(alias) for alias in aliases)
    )
    if not plain:
        _django_fixture_teardown(self)
        return
    for alias in aliases:
        empty_every_table(alias)
        emit_post_migrate_signal(verbosity=0, interactive=False, db=alias)


def install() -> None:
    """Make every transactional test of this run end with ``empty_every_table``."""
    TransactionTestCase._fixture_teardown = _fixture_teardown


__all__ = ["empty_every_table", "install"]
