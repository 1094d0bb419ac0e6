"""Beat rows of jobs that left CELERY_BEAT_SCHEDULE are deleted by a migration.

django-celery-beat copies the setting into its tables and never deletes a row whose entry
left it: without the migration, an upgraded database keeps sending the removed task."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django_celery_beat.models import IntervalSchedule, PeriodicTask


def migrate(*targets: tuple[str, str]) -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(list(targets) or executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_the_removed_deadline_tick_row_is_deleted_on_upgrade():
    assert "evaluation-tick" not in settings.CELERY_BEAT_SCHEDULE
    try:
        migrate(("core", "0007_mailer"))
        every_second, _ = IntervalSchedule.objects.get_or_create(every=1, period="seconds")
        # What beat had written from the setting of an older version, and a job still listed.
        PeriodicTask.objects.create(
            name="evaluation-tick", task="monitoring.tick", interval=every_second
        )
        PeriodicTask.objects.create(
            name="run-due-probes", task="monitoring.run_due_probes", interval=every_second
        )
        migrate(("core", "0008_remove_evaluation_tick"))
        assert not PeriodicTask.objects.filter(task="monitoring.tick").exists()
        assert PeriodicTask.objects.filter(name="run-due-probes").exists()
    finally:
        migrate()
