"""Database guards: versions never change once written, and the audit trail, acceptances and
signatures are append-only, whatever writes to the database (ORM, raw SQL, admin, shell).

PostgreSQL refuses both updates and deletes. SQLite (the embedded demo database) refuses
updates; deletes are left to the models and PROTECT foreign keys there, because Django's
SQLite test runner empties tables with DELETE between tests.
"""

from django.db import migrations

APPEND_ONLY = ["agreements_auditevent", "agreements_acceptance", "agreements_signature"]

POSTGRES_FORWARD = [
    """
    CREATE OR REPLACE FUNCTION sla_version_guard() RETURNS trigger AS $$
    BEGIN
      IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'agreement version % is never deleted', OLD.id;
      END IF;
      IF NEW.snapshot IS DISTINCT FROM OLD.snapshot
         OR NEW.content_hash IS DISTINCT FROM OLD.content_hash
         OR NEW.number IS DISTINCT FROM OLD.number
         OR NEW.agreement_id IS DISTINCT FROM OLD.agreement_id THEN
        RAISE EXCEPTION 'agreement version % is immutable', OLD.id;
      END IF;
      IF OLD.finalized_at IS NOT NULL AND NEW.finalized_at IS DISTINCT FROM OLD.finalized_at THEN
        RAISE EXCEPTION 'agreement version % is final and frozen', OLD.id;
      END IF;
      RETURN NEW;
    END $$ LANGUAGE plpgsql;
    """,
    """
    CREATE TRIGGER agreementversion_guard BEFORE UPDATE OR DELETE
    ON agreements_agreementversion FOR EACH ROW EXECUTE FUNCTION sla_version_guard();
    """,
    """
    CREATE OR REPLACE FUNCTION sla_append_only() RETURNS trigger AS $$
    BEGIN
      RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
    END $$ LANGUAGE plpgsql;
    """,
    *[
        f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
        "FOR EACH ROW EXECUTE FUNCTION sla_append_only();"
        for table in APPEND_ONLY
    ],
]
POSTGRES_BACKWARD = [
    "DROP TRIGGER IF EXISTS agreementversion_guard ON agreements_agreementversion;",
    *[f"DROP TRIGGER IF EXISTS {table}_append_only ON {table};" for table in APPEND_ONLY],
    "DROP FUNCTION IF EXISTS sla_version_guard();",
    "DROP FUNCTION IF EXISTS sla_append_only();",
]

SQLITE_FORWARD = [
    """
    CREATE TRIGGER agreementversion_guard BEFORE UPDATE ON agreements_agreementversion
    WHEN NEW.snapshot IS NOT OLD.snapshot
      OR NEW.content_hash IS NOT OLD.content_hash
      OR NEW.number IS NOT OLD.number
      OR NEW.agreement_id IS NOT OLD.agreement_id
      OR (OLD.finalized_at IS NOT NULL AND NEW.finalized_at IS NOT OLD.finalized_at)
    BEGIN SELECT RAISE(ABORT, 'agreement versions are immutable'); END;
    """,
    *[
        f"CREATE TRIGGER {table}_append_only BEFORE UPDATE ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END;"
        for table in APPEND_ONLY
    ],
]
SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS agreementversion_guard;",
    *[f"DROP TRIGGER IF EXISTS {table}_append_only;" for table in APPEND_ONLY],
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
    dependencies = [("agreements", "0002_lifecycle")]
    operations = [migrations.RunPython(forward, backward)]
