"""A closed period result is frozen: the database refuses to change or delete it.

Reports and service credits rest on what was known at period close; a correction is a new
report revision (reporting), never an edit of the closed figures.
"""

from django.db import migrations

POSTGRES_FORWARD = [
    """
    CREATE OR REPLACE FUNCTION sla_closed_period_guard() RETURNS trigger AS $$
    BEGIN
      IF OLD.closed_at IS NOT NULL THEN
        RAISE EXCEPTION 'period result % is closed and cannot change', OLD.id;
      END IF;
      IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
      RETURN NEW;
    END $$ LANGUAGE plpgsql;
    """,
    """
    CREATE TRIGGER periodresult_closed_guard BEFORE UPDATE OR DELETE
    ON monitoring_periodresult FOR EACH ROW EXECUTE FUNCTION sla_closed_period_guard();
    """,
]
POSTGRES_BACKWARD = [
    "DROP TRIGGER IF EXISTS periodresult_closed_guard ON monitoring_periodresult;",
    "DROP FUNCTION IF EXISTS sla_closed_period_guard();",
]
SQLITE_FORWARD = [
    """
    CREATE TRIGGER periodresult_closed_guard BEFORE UPDATE ON monitoring_periodresult
    WHEN OLD.closed_at IS NOT NULL
    BEGIN SELECT RAISE(ABORT, 'closed period results cannot change'); END;
    """,
    """
    CREATE TRIGGER periodresult_closed_delete_guard BEFORE DELETE ON monitoring_periodresult
    WHEN OLD.closed_at IS NOT NULL
    BEGIN SELECT RAISE(ABORT, 'closed period results cannot change'); END;
    """,
]
SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS periodresult_closed_guard;",
    "DROP TRIGGER IF EXISTS periodresult_closed_delete_guard;",
]


def forward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    statements = {"postgresql": POSTGRES_FORWARD, "sqlite": SQLITE_FORWARD}.get(vendor, [])
    for statement in statements:
        schema_editor.execute(statement, params=None)


def backward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    statements = {"postgresql": POSTGRES_BACKWARD, "sqlite": SQLITE_BACKWARD}.get(vendor, [])
    for statement in statements:
        schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [("monitoring", "0005_evaluation")]
    operations = [migrations.RunPython(forward, backward)]
