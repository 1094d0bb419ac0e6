"""Email is sent by ``run_mailer`` now.

``attempted_at`` records when a notification's latest attempt ended, for /healthz. The beat
sweep that sent email from the Celery worker goes: django-celery-beat copies
CELERY_BEAT_SCHEDULE into its tables but never deletes a row whose entry left the setting,
so beat would go on sending the sweep every 30 s from the old row.
"""

from django.db import migrations, models

SWEEP = "deliver-notifications"


def remove_sweep(apps, schema_editor) -> None:
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name=SWEEP).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0006_source_sharing_event"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    # Going back from the sweep's removal needs nothing: beat writes the row again from the setting of that version.
    operations = [
        migrations.AddField(
            model_name="notification",
            name="attempted_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddIndex(
            model_name="notification",
            index=models.Index(
                condition=models.Q(("attempted_at__isnull", False)),
                fields=["-attempted_at"],
                name="notification_attempted_idx",
            ),
        ),
        migrations.RunPython(remove_sweep, migrations.RunPython.noop),
    ]
