"""Issued reports never change: a correction is a new revision.

PostgreSQL refuses UPDATE and DELETE with the append-only trigger function of
``agreements.0003_lifecycle_guards``. SQLite (the embedded demo database) refuses updates;
deletes are left to the model and PROTECT foreign keys there, because Django's SQLite test
runner empties tables with DELETE between tests (the same split as that migration).
"""

from django.db import migrations

TABLE = "reporting_report"

POSTGRES_FORWARD = [
    f"CREATE TRIGGER {TABLE}_append_only BEFORE UPDATE OR DELETE ON {TABLE} "
    "FOR EACH ROW EXECUTE FUNCTION sla_append_only();"
]
POSTGRES_BACKWARD = [f"DROP TRIGGER IF EXISTS {TABLE}_append_only ON {TABLE};"]
SQLITE_FORWARD = [
    f"CREATE TRIGGER {TABLE}_append_only BEFORE UPDATE ON {TABLE} "
    f"BEGIN SELECT RAISE(ABORT, '{TABLE} is append-only'); END;"
]
SQLITE_BACKWARD = [f"DROP TRIGGER IF EXISTS {TABLE}_append_only;"]


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
    # 0003_lifecycle_guards defines sla_append_only(); 0001 depends on a later agreements
    # migration already, named here so the dependency is explicit.
    dependencies = [("reporting", "0001_initial"), ("agreements", "0003_lifecycle_guards")]
    operations = [migrations.RunPython(forward, backward)]
