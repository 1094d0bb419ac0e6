"""Stricter guards: a version's note and proposer are part of the record too, a version can
only become final once it has signatures, comments are append-only, and a decided review is
frozen. (See 0003 for the first guards and why SQLite guards updates only.)"""

from django.db import migrations

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
         OR NEW.agreement_id IS DISTINCT FROM OLD.agreement_id
         OR NEW.note IS DISTINCT FROM OLD.note
         OR NEW.proposed_by_id IS DISTINCT FROM OLD.proposed_by_id
         OR NEW.proposed_at IS DISTINCT FROM OLD.proposed_at THEN
        RAISE EXCEPTION 'agreement version % is immutable', OLD.id;
      END IF;
      IF OLD.finalized_at IS NOT NULL AND NEW.finalized_at IS DISTINCT FROM OLD.finalized_at THEN
        RAISE EXCEPTION 'agreement version % is final and frozen', OLD.id;
      END IF;
      IF OLD.finalized_at IS NULL AND NEW.finalized_at IS NOT NULL AND NOT EXISTS (
           SELECT 1 FROM agreements_signature WHERE version_id = NEW.id) THEN
        RAISE EXCEPTION 'agreement version % cannot be final without signatures', OLD.id;
      END IF;
      RETURN NEW;
    END $$ LANGUAGE plpgsql;
    """,
    "CREATE TRIGGER agreements_comment_append_only BEFORE UPDATE OR DELETE "
    "ON agreements_comment FOR EACH ROW EXECUTE FUNCTION sla_append_only();",
    """
    CREATE OR REPLACE FUNCTION sla_review_guard() RETURNS trigger AS $$
    BEGIN
      IF OLD.status = 'decided' THEN
        RAISE EXCEPTION 'review % is decided and frozen', OLD.id;
      END IF;
      IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
      RETURN NEW;
    END $$ LANGUAGE plpgsql;
    """,
    "CREATE TRIGGER agreements_review_guard BEFORE UPDATE OR DELETE ON agreements_review "
    "FOR EACH ROW EXECUTE FUNCTION sla_review_guard();",
]
POSTGRES_BACKWARD = [
    "DROP TRIGGER IF EXISTS agreements_review_guard ON agreements_review;",
    "DROP FUNCTION IF EXISTS sla_review_guard();",
    "DROP TRIGGER IF EXISTS agreements_comment_append_only ON agreements_comment;",
]

SQLITE_FORWARD = [
    "DROP TRIGGER IF EXISTS agreementversion_guard;",
    """
    CREATE TRIGGER agreementversion_guard BEFORE UPDATE ON agreements_agreementversion
    WHEN NEW.snapshot IS NOT OLD.snapshot
      OR NEW.content_hash IS NOT OLD.content_hash
      OR NEW.number IS NOT OLD.number
      OR NEW.agreement_id IS NOT OLD.agreement_id
      OR NEW.note IS NOT OLD.note
      OR NEW.proposed_by_id IS NOT OLD.proposed_by_id
      OR NEW.proposed_at IS NOT OLD.proposed_at
      OR (OLD.finalized_at IS NOT NULL AND NEW.finalized_at IS NOT OLD.finalized_at)
      OR (OLD.finalized_at IS NULL AND NEW.finalized_at IS NOT NULL AND NOT EXISTS (
            SELECT 1 FROM agreements_signature WHERE version_id = NEW.id))
    BEGIN SELECT RAISE(ABORT, 'agreement versions are immutable'); END;
    """,
    "CREATE TRIGGER agreements_comment_append_only BEFORE UPDATE ON agreements_comment "
    "BEGIN SELECT RAISE(ABORT, 'agreements_comment is append-only'); END;",
    "CREATE TRIGGER agreements_review_guard BEFORE UPDATE ON agreements_review "
    "WHEN OLD.status = 'decided' "
    "BEGIN SELECT RAISE(ABORT, 'a decided review is frozen'); END;",
]
SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS agreements_review_guard;",
    "DROP TRIGGER IF EXISTS agreements_comment_append_only;",
]


def forward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for statement in {"postgresql": POSTGRES_FORWARD, "sqlite": SQLITE_FORWARD}.get(vendor, []):
        schema_editor.execute(statement, params=None)


def backward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for statement in {"postgresql": POSTGRES_BACKWARD, "sqlite": SQLITE_BACKWARD}.get(vendor, []):
        schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [("agreements", "0003_lifecycle_guards")]
    operations = [migrations.RunPython(forward, backward)]
