"""Reports are reviewed as drafts before they are issued.

Existing reports were issued when they were made: they become ``issued`` with their
``drafted_at`` set to their ``issued_at``. The append-only trigger of 0002 becomes
conditional: a draft may be refreshed and issued (UPDATE), and an issued report still
refuses every UPDATE and DELETE (PostgreSQL) or UPDATE (SQLite, see 0002).
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

TABLE = "reporting_report"

POSTGRES_DROP_OLD = [f"DROP TRIGGER IF EXISTS {TABLE}_append_only ON {TABLE};"]
POSTGRES_NEW = [
    """
    CREATE OR REPLACE FUNCTION reporting_report_issued_guard() RETURNS trigger AS $$
    BEGIN
      IF OLD.status <> 'draft' THEN
        RAISE EXCEPTION '% is append-only once issued', TG_TABLE_NAME;
      END IF;
      IF TG_OP = 'DELETE' THEN
        RETURN OLD;
      END IF;
      RETURN NEW;
    END $$ LANGUAGE plpgsql;
    """,
    f"CREATE TRIGGER {TABLE}_append_only BEFORE UPDATE OR DELETE ON {TABLE} "
    "FOR EACH ROW EXECUTE FUNCTION reporting_report_issued_guard();",
]
POSTGRES_DROP_NEW = [
    f"DROP TRIGGER IF EXISTS {TABLE}_append_only ON {TABLE};",
    "DROP FUNCTION IF EXISTS reporting_report_issued_guard();",
]
POSTGRES_OLD = [
    f"CREATE TRIGGER {TABLE}_append_only BEFORE UPDATE OR DELETE ON {TABLE} "
    "FOR EACH ROW EXECUTE FUNCTION sla_append_only();"
]
SQLITE_DROP = [f"DROP TRIGGER IF EXISTS {TABLE}_append_only;"]
SQLITE_NEW = [
    f"CREATE TRIGGER {TABLE}_append_only BEFORE UPDATE ON {TABLE} "
    f"WHEN OLD.status <> 'draft' "
    f"BEGIN SELECT RAISE(ABORT, '{TABLE} is append-only once issued'); END;"
]
SQLITE_OLD = [
    f"CREATE TRIGGER {TABLE}_append_only BEFORE UPDATE ON {TABLE} "
    f"BEGIN SELECT RAISE(ABORT, '{TABLE} is append-only'); END;"
]


def _run(schema_editor, by_vendor):
    for statement in by_vendor.get(schema_editor.connection.vendor, []):
        schema_editor.execute(statement, params=None)


def drop_old_trigger(apps, schema_editor):
    _run(schema_editor, {"postgresql": POSTGRES_DROP_OLD, "sqlite": SQLITE_DROP})


def restore_old_trigger(apps, schema_editor):
    _run(schema_editor, {"postgresql": POSTGRES_OLD, "sqlite": SQLITE_OLD})


def mark_existing_issued(apps, schema_editor):
    Report = apps.get_model("reporting", "Report")
    Report.objects.update(status="issued", drafted_at=models.F("issued_at"))


def create_new_trigger(apps, schema_editor):
    _run(schema_editor, {"postgresql": POSTGRES_NEW, "sqlite": SQLITE_NEW})


def drop_new_trigger(apps, schema_editor):
    _run(schema_editor, {"postgresql": POSTGRES_DROP_NEW, "sqlite": SQLITE_DROP})


class Migration(migrations.Migration):
    dependencies = [
        ("reporting", "0002_reports_immutable"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(drop_old_trigger, restore_old_trigger),
        migrations.AddField(
            model_name="report",
            name="drafted_at",
            field=models.DateTimeField(
                blank=True, help_text="When the month closed and the draft was made.", null=True
            ),
        ),
        migrations.AddField(
            model_name="report",
            name="status",
            field=models.CharField(
                choices=[("draft", "Draft (provider review)"), ("issued", "Issued")],
                default="draft",
                max_length=10,
            ),
        ),
        migrations.AlterField(
            model_name="report",
            name="issued_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name="report",
            name="issued_by",
            field=models.ForeignKey(
                blank=True,
                help_text="Empty for reports issued automatically when the review window ended.",
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.RunPython(mark_existing_issued, migrations.RunPython.noop),
        migrations.AddIndex(
            model_name="report",
            index=models.Index(
                condition=models.Q(("status", "draft")),
                fields=["drafted_at"],
                name="report_draft_due",
            ),
        ),
        migrations.AddConstraint(
            model_name="report",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(
                        ("issued_at__isnull", True),
                        ("issued_by__isnull", True),
                        ("status", "draft"),
                    ),
                    models.Q(("issued_at__isnull", False), ("status", "issued")),
                    _connector="OR",
                ),
                name="report_issued_has_time",
            ),
        ),
        migrations.RunPython(create_new_trigger, drop_new_trigger),
    ]
