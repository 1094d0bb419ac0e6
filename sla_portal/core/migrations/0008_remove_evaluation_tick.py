"""Beat no longer sends the deadline tick: ``manage.py run_deadlines`` ticks from the
database alone. django-celery-beat copies CELERY_BEAT_SCHEDULE into its tables but never
deletes a row whose entry left the setting, so an upgraded database would go on sending
the removed ``monitoring.tick`` every second ("Received unregistered task", 86,400 errors a
day). The row goes, as 0007_mailer does for "deliver-notifications".
"""

from django.db import migrations

TICK = "evaluation-tick"


def remove_tick(apps, schema_editor) -> None:
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name=TICK).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0007_mailer"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    # Going back needs nothing: beat writes the row again from the setting of that version.
    operations = [migrations.RunPython(remove_tick, migrations.RunPython.noop)]
