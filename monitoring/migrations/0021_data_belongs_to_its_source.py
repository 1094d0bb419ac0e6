"""Monitoring data belongs to the source that sent it (monitoring.ownership).

Schema: checks, outages and measurements are unique per source (two customers' monitors of
one service keep their own rows); ``Source.shared`` marks provider-owned measurements counted
for every agreement covering the service.

Data, said line by line on the migration's output:

* every built-in probe source becomes shared: the provider's probe measured the service for
  every customer before, and still does, now deliberately;
* rows recorded without a source (checks, outages, maintenance windows) are given one where
  that is unambiguous: when the agreements of exactly one customer cover the service, they
  move to that customer's source "Recorded before sources" (created disabled: it receives
  nothing new). Rows of a service several customers' agreements cover (or none) stay without
  a source: they count for no agreement and only the provider sees them;
* only agreements that bind or were proposed count as covering (in negotiation, agreed,
  active, under review, renegotiating). A draft is the provider's working copy and grants
  nothing, so another customer's draft does not take a customer's own history away (its
  periods would otherwise withdraw that customer's breaches). When no such agreement covers
  the service, those that ended (terminated, expired) decide, as the history is theirs;
* maintenance windows without a source could share an external id (a NULL source never
  clashed); under one source they would break ``maintenance_unique_external``, so every
  window after the first of such a group gets its id re-keyed "<id> (before sources #<pk>)",
  each one said on the output.
"""

from django.db import migrations, models
from django.utils import timezone

LEGACY_SOURCE = "Recorded before sources"
# Agreement states that count as covering a service (agreements.terms.MONITORED_STATES and
# the proposed ones), then the ended ones; a draft never does. Frozen here: a migration must
# not follow later edits of the app's constants.
COVERING_STATES = ("in_negotiation", "agreed", "active", "under_review", "renegotiating")
ENDED_STATES = ("terminated", "expired")


def _say(text):
    print(f"  monitoring 0021: {text}")


def _covering_customers(Agreement, service_id) -> list:
    """The customers whose agreements cover the service: binding or proposed ones first,
    else ended ones; drafts never."""
    covering = Agreement.objects.filter(services__id=service_id)
    for states in (COVERING_STATES, ENDED_STATES):
        customers = set(covering.filter(status__in=states).values_list("customer_id", flat=True))
        if customers:
            return sorted(customers)
    return []


def _rekey_clashing_windows(MaintenanceWindow, service_id) -> None:
    """Give every source-less window whose external id an earlier one (lower pk) of the same
    service holds a distinct id, so moving them under one source keeps them unique."""
    field = MaintenanceWindow._meta.get_field("external_id")
    seen = set()
    rows = (
        MaintenanceWindow.objects.filter(service_id=service_id, source__isnull=True)
        .order_by("pk")
        .values_list("pk", "external_id")
    )
    for pk, external_id in rows:
        if external_id not in seen:
            seen.add(external_id)
            continue
        suffix = f" (before sources #{pk})"
        new_id = external_id[: field.max_length - len(suffix)] + suffix
        MaintenanceWindow.objects.filter(pk=pk).update(external_id=new_id)
        _say(
            f"service {service_id}: maintenance window {pk} shared external id "
            f"{external_id!r} with an earlier one: re-keyed {new_id!r}"
        )


def attribute_data(apps, schema_editor):
    Source = apps.get_model("monitoring", "Source")
    Agreement = apps.get_model("agreements", "Agreement")
    shared = Source.objects.filter(kind="probe", shared=False).update(shared=True)
    if shared:
        _say(f"{shared} built-in probe source(s) marked shared")
    models_ = [
        apps.get_model("monitoring", name)
        for name in ("UptimeCheck", "Outage", "MaintenanceWindow")
    ]
    service_ids = set()
    for model in models_:
        service_ids.update(
            model.objects.filter(source__isnull=True)
            .order_by()
            .values_list("service_id", flat=True)
            .distinct()
        )
    for service_id in sorted(service_ids):
        customers = _covering_customers(Agreement, service_id)
        counts = {
            model.__name__: model.objects.filter(service_id=service_id, source__isnull=True)
            for model in models_
        }
        if len(customers) != 1:
            left = ", ".join(f"{qs.count()} {name}" for name, qs in counts.items())
            _say(
                f"service {service_id}: {left} rows left without a source (covered by "
                f"{len(customers)} customers): counted for no agreement"
            )
            continue
        _rekey_clashing_windows(models_[2], service_id)
        source, _ = Source.objects.get_or_create(
            customer_id=customers[0],
            name=LEGACY_SOURCE,
            defaults={
                "kind": "api",
                "description": "Rows recorded before every row named its source.",
                "disabled_at": timezone.now(),
            },
        )
        moved = ", ".join(f"{qs.update(source=source)} {name}" for name, qs in counts.items())
        _say(
            f"service {service_id}: {moved} rows given to source {source.pk} of customer {customers[0]}"
        )


class Migration(migrations.Migration):
    dependencies = [
        ("agreements", "0006_comment_threads"),
        ("monitoring", "0020_breach_withdrawn"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="measurement",
            name="measurement_unique_time",
        ),
        migrations.RemoveConstraint(
            model_name="outage",
            name="outage_unique_start",
        ),
        migrations.RemoveConstraint(
            model_name="uptimecheck",
            name="check_unique_time",
        ),
        migrations.AddField(
            model_name="source",
            name="shared",
            field=models.BooleanField(
                default=False,
                editable=False,
                help_text="Provider-owned measurement: its data counts for every customer's agreements that cover the service, not only this customer's.",
            ),
        ),
        migrations.AddConstraint(
            model_name="measurement",
            constraint=models.UniqueConstraint(
                fields=("service", "name", "measured_at", "source"), name="measurement_unique_time"
            ),
        ),
        migrations.AddConstraint(
            model_name="outage",
            constraint=models.UniqueConstraint(
                fields=("service", "started_at", "source"),
                name="outage_unique_start",
                nulls_distinct=False,
            ),
        ),
        migrations.AddConstraint(
            model_name="uptimecheck",
            constraint=models.UniqueConstraint(
                fields=("service", "checked_at", "source"),
                name="check_unique_time",
                nulls_distinct=False,
            ),
        ),
        # Last: updating rows leaves deferred foreign-key checks pending, and PostgreSQL
        # refuses to alter a table with pending trigger events in the same transaction.
        migrations.RunPython(attribute_data, migrations.RunPython.noop),
    ]
