"""Forms of the source pages: a feed's settings (kind, zone, probe) and its alerts."""

from __future__ import annotations

import zoneinfo
from typing import Any

from django import forms

from agreements.models import Service
from agreements.selectors import services_visible_to
from monitoring.adapters import service_map_errors
from monitoring.models import ProbeState, Source
from monitoring.sources import ProbeSettings
from monitoring.status_codes import parse_expected
from sla_portal.core.models import Organisation, User
from sla_portal.core.netguard import validate_probe_url
from sla_portal.core.selectors import organisations_visible_to


def time_zone_names() -> list[str]:
    """IANA zones for the time-zone datalist, UTC first."""
    return ["UTC", *sorted(zoneinfo.available_timezones() - {"UTC"})]


SOURCE_GROUPS: dict[str, tuple[str, str, list[str]]] = {
    "webhook": (
        "Webhook",
        "A monitor or alert manager pushes checks or tickets to a URL, signed with a secret.",
        [Source.Kind.WEBHOOK, Source.Kind.UPTIME_KUMA, Source.Kind.ALERTMANAGER],
    ),
    "probe": (
        "Built-in HTTP probe",
        "The portal itself calls a service's health URL at an interval and records up or down.",
        [Source.Kind.PROBE],
    ),
    "feed": (
        "Import or API feed",
        "Export files uploaded on the Imports page, or batches sent to the REST API.",
        [
            Source.Kind.API,
            Source.Kind.CSV,
            Source.Kind.SERVICENOW,
            Source.Kind.JIRA,
            Source.Kind.ZAMMAD,
            Source.Kind.UPTIME_KUMA,
            Source.Kind.UPPTIME,
            Source.Kind.HEALTHCHECK,
            Source.Kind.STATUSPAGE,
        ],
    ),
}
MIN_PROBE_INTERVAL = 10
MAX_PROBE_TIMEOUT = 60
MAX_PROBE_RETRIES = 10


def _clean_zone(value: str) -> str:
    name = value.strip()
    if name and name.upper() != "UTC" and name not in zoneinfo.available_timezones():
        raise forms.ValidationError(f"Unknown time zone {name!r}; use Area/City or UTC.")
    return "UTC" if name.upper() == "UTC" else name


class SourceForm(forms.Form):
    """A source's name and description, its time zone and (for probes) what to probe and how.

    ``group`` is a key of :data:`SOURCE_GROUPS`; ``source`` is the source being edited, whose
    customer, kind and probed service are fixed and therefore not fields."""

    customer = forms.ModelChoiceField(
        queryset=None, help_text="Whose data this is: it counts for this customer's agreements."
    )
    kind = forms.ChoiceField(choices=())
    name = forms.CharField(max_length=120, help_text="Unique per customer, e.g. “Acme Grafana”.")
    description = forms.CharField(
        required=False,
        max_length=300,
        help_text="What sends this data, in a sentence (optional).",
    )
    timezone = forms.CharField(
        required=False,
        label="Time zone",
        max_length=64,
        widget=forms.TextInput(attrs={"list": "timezones", "autocomplete": "off"}),
        help_text="Zone of timestamps written without one (Uptime Kuma writes its server's "
        "local time). Empty: such timestamps are refused.",
    )
    service = forms.ModelChoiceField(
        queryset=None,
        help_text="The service whose health URL is called. It must be covered by an agreement "
        "of the customer.",
    )
    probe_url = forms.URLField(
        label="URL",
        max_length=200,
        assume_scheme="https",
        help_text="Called with HTTP GET, e.g. https://portal.example.com/health.",
        validators=[validate_probe_url],
    )
    probe_interval_seconds = forms.IntegerField(
        label="Interval (seconds)", min_value=MIN_PROBE_INTERVAL, max_value=86_400, initial=60
    )
    expected_status = forms.CharField(
        max_length=200,
        initial="200-299",
        help_text="Status codes that count as up: codes and ranges, e.g. 200-299,301.",
    )
    timeout_seconds = forms.IntegerField(
        label="Timeout (seconds)", min_value=1, max_value=MAX_PROBE_TIMEOUT, initial=10
    )
    retries_before_down = forms.IntegerField(
        label="Failed attempts before down",
        min_value=1,
        max_value=MAX_PROBE_RETRIES,
        initial=2,
        help_text="A single blip is not an outage: the service is down after this many.",
    )

    # Staleness (monitoring.staleness): how long the source may stay silent, and what its
    # silence means for availability. Edited after creation, when the feed is known.
    expected_interval_minutes = Source._meta.get_field("expected_interval_minutes").formfield(
        max_value=525_600
    )
    silence_counts_as_down = Source._meta.get_field("silence_counts_as_down").formfield()

    STALENESS_FIELDS = ("expected_interval_minutes", "silence_counts_as_down")

    PROBE_FIELDS = (
        "probe_url",
        "probe_interval_seconds",
        "expected_status",
        "timeout_seconds",
        "retries_before_down",
    )

    def __init__(
        self, *args: Any, user: User, group: str, source: Source | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.group = group
        self.source = source
        kinds = SOURCE_GROUPS[group][2]
        self.fields["kind"].choices = [(kind, Source.Kind(kind).label) for kind in kinds]
        self.only_kind = kinds[0] if len(kinds) == 1 else None
        if self.only_kind is not None:
            del self.fields["kind"]  # nothing to choose
        self.fields["customer"].queryset = organisations_visible_to(user).filter(
            kind=Organisation.Kind.CUSTOMER
        )
        self.fields["service"].queryset = services_visible_to(user).filter(agreement_count__gt=0)
        if group == "probe":
            del self.fields["timezone"]  # the probe writes aware times
        else:
            for name in ("service", *self.PROBE_FIELDS):
                del self.fields[name]
        if source is None:
            for name in self.STALENESS_FIELDS:
                del self.fields[name]
        if source is not None:
            del self.fields["customer"]
            self.fields.pop("kind", None)
            self.fields.pop("service", None)

    def clean_timezone(self) -> str:
        return _clean_zone(self.cleaned_data["timezone"])

    def clean_name(self) -> str:
        return self.cleaned_data["name"].strip()

    def clean_expected_status(self) -> str:
        value = self.cleaned_data["expected_status"].strip()
        try:
            parse_expected(value)
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None
        return value

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        customer = self.source.customer if self.source else data.get("customer")
        name = data.get("name")
        if customer and name:
            taken = Source.objects.filter(customer=customer, name__iexact=name)
            if self.source is not None:
                taken = taken.exclude(pk=self.source.pk)
            if taken.exists():
                self.add_error("name", f"{customer} already has a source named “{name}”.")
        service = data.get("service")
        if self.source is None and self.group == "probe" and service and customer:
            if not service.agreements.filter(customer=customer).exists():
                self.add_error(
                    "service",
                    f"No agreement of {customer} covers {service}: its checks would be refused. "
                    "Add the service to one of the customer's agreements first.",
                )
            other = Source.objects.filter(service=service).first()
            if other is not None:
                self.add_error(
                    "service",
                    f"{service} is already probed by the source “{other.name}” of "
                    f"{other.customer}: edit that one instead.",
                )
        return data

    def chosen_kind(self) -> str:
        """The kind chosen, or the only kind of this form's group."""
        return self.only_kind or self.cleaned_data["kind"]

    def probe_settings(self) -> ProbeSettings | None:
        """The probe settings chosen, or None when this is not a probe form."""
        if self.group != "probe":
            return None
        data = self.cleaned_data
        return ProbeSettings(
            url=data["probe_url"],
            interval_seconds=data["probe_interval_seconds"],
            expected_status=data["expected_status"],
            timeout_seconds=data["timeout_seconds"],
            retries_before_down=data["retries_before_down"],
        )

    @staticmethod
    def initial_for(source: Source) -> dict[str, Any]:
        """The edit form's starting values, probe settings read where the probe keeps them."""
        initial: dict[str, Any] = {
            "name": source.name,
            "description": source.description,
            "timezone": source.timezone,
            "expected_interval_minutes": source.expected_interval_minutes,
            "silence_counts_as_down": source.silence_counts_as_down,
        }
        if source.service_id:
            service = source.service
            initial |= {
                "probe_url": service.probe_url,
                "probe_interval_seconds": service.probe_interval_seconds,
            }
            state = ProbeState.objects.filter(service=service).first()
            if state is not None:
                initial |= {
                    "expected_status": state.expected_status,
                    "timeout_seconds": state.timeout_seconds,
                    "retries_before_down": state.retries_before_down,
                }
        return initial


class SourceAlertsForm(forms.Form):
    """How an alert sender's names and times are read (Alertmanager, Uptime Kuma, webhooks):
    the label mapping, one ``label value = Service name`` per line, and the ``for:`` delay."""

    service_map = forms.CharField(
        label="Service label mapping",
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "class": "font-monospace"}),
        help_text="One per line: label value = service name, e.g. “portal-https = Customer "
        "Portal”. Names also match ignoring case and spacing without a mapping.",
    )
    for_seconds = forms.IntegerField(
        label="Alert rule for: (seconds)",
        min_value=0,
        max_value=86_400,
        initial=0,
        help_text="Prometheus fires an alert after its rule's for: held; this many seconds are "
        "subtracted from each alert's start so the outage starts when the service went down.",
    )

    def __init__(self, *args: Any, source: Source, **kwargs: Any) -> None:
        kwargs.setdefault(
            "initial",
            {
                "service_map": "\n".join(f"{k} = {v}" for k, v in source.service_map.items()),
                "for_seconds": source.for_seconds,
            },
        )
        super().__init__(*args, prefix="alerts", **kwargs)
        self.source = source
        if source.kind != Source.Kind.ALERTMANAGER:
            del self.fields["for_seconds"]  # only Alertmanager's startsAt lags by for:

    def clean_service_map(self) -> dict[str, str]:
        mapping: dict[str, str] = {}
        for number, line in enumerate(self.cleaned_data["service_map"].splitlines(), 1):
            if not line.strip():
                continue
            key, sep, value = line.partition("=")
            if not sep:
                raise forms.ValidationError(f"Line {number}: write label value = service name.")
            mapping[key.strip()] = value.strip()
        covered = set(
            Service.objects.filter(agreements__customer_id=self.source.customer_id)
            .distinct()
            .values_list("name", flat=True)
        )
        errors = service_map_errors(mapping, covered)
        if errors:
            raise forms.ValidationError(errors)
        return mapping
