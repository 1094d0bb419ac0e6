"""The replay of a proposal's targets on history, as the API returns it (read-only)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from monitoring.evaluation.replay import MAX_REPLAY_PERIODS
from reporting.replay.runs import DEFAULT_PERIODS
from reporting.replay.uploads import FORMATS


class ReplayQuerySerializer(serializers.Serializer):
    """What to replay (query parameters; the OpenAPI schema documents them from here)."""

    version = serializers.CharField(
        required=False,
        default="draft",
        help_text="'draft' (the working copy, provider managers only) or a version number.",
    )
    periods = serializers.IntegerField(
        required=False,
        default=DEFAULT_PERIODS,
        min_value=1,
        max_value=MAX_REPLAY_PERIODS,
        help_text="How many past months to replay; a quarterly or yearly target is judged on "
        "its periods that end inside them.",
    )
    until = serializers.DateField(
        required=False, help_text="The last day the replayed periods may end on (default today)."
    )
    upload = serializers.CharField(
        required=False,
        help_text="Follow a replay on an uploaded export: the 'upload' its POST answered.",
    )
    retry = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Queue again a background replay that failed (a failure is otherwise "
        "answered with 409 and its reason).",
    )


class ReplayUploadSerializer(ReplayQuerySerializer):
    """A replay on an uploaded export of uptime checks (multipart form)."""

    upload = None
    retry = None
    file = serializers.FileField(help_text="The export: .csv, .csv.gz or .zip, at most 50 MB.")
    format = serializers.ChoiceField(sorted(FORMATS), help_text="Which importer reads it.")
    monitor = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text="The export's monitor (key, site) to replay on; by default its first.",
    )
    service = serializers.CharField(help_text="Which of the agreement's services it watched.")


class ReplayPeriodSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    month = serializers.CharField(help_text="YYYY-MM: the month whose report shows the period.")
    value = serializers.FloatField(allow_null=True)
    status = serializers.ChoiceField(["met", "at_risk", "missed_target", "breached", "no_data"])
    closed = serializers.BooleanField(
        default=True,
        help_text="False while the evaluation would still hold the period open (late "
        "satisfaction ratings are still counted): its verdict may change.",
    )


class ReplayTallySerializer(serializers.Serializer):
    periods = serializers.IntegerField()
    met = serializers.IntegerField()
    missed = serializers.IntegerField(help_text="Worse than the target (breaches included).")
    breached = serializers.IntegerField(help_text="Worse than the threshold too.")
    no_data = serializers.IntegerField()


class ReplayTargetSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    metric = serializers.CharField()
    period = serializers.CharField()
    goal = serializers.CharField(help_text="The target as judged: '99.95 %', '95 %' of tickets.")
    goal_target = serializers.FloatField()
    goal_threshold = serializers.FloatField()
    value_unit = serializers.CharField()
    tally = ReplayTallySerializer()
    periods = ReplayPeriodSerializer(many=True)


class ReplayCreditMonthSerializer(serializers.Serializer):
    month = serializers.CharField()
    percent = serializers.DecimalField(max_digits=7, decimal_places=2, coerce_to_string=True)
    amount = serializers.DecimalField(max_digits=14, decimal_places=2, coerce_to_string=True)


class ReplayCreditsSerializer(serializers.Serializer):
    currency = serializers.CharField()
    total = serializers.DecimalField(max_digits=14, decimal_places=2, coerce_to_string=True)
    months = ReplayCreditMonthSerializer(many=True)


class ReplaySideSerializer(serializers.Serializer):
    label = serializers.CharField()
    targets = ReplayTargetSerializer(many=True)
    credits = ReplayCreditsSerializer()


class ReplayUploadedSerializer(serializers.Serializer):
    format = serializers.CharField()
    monitor = serializers.CharField()
    service = serializers.CharField()


# One replay per agreement: the endpoint is the viewset's list action, but it answers one
# object, not an array (drf-spectacular would otherwise document a list).
@extend_schema_serializer(many=False)
class ReplaySerializer(serializers.Serializer):
    """A finished replay: the proposal, the version in force beside it, the summary."""

    agreement = serializers.IntegerField()
    source = serializers.CharField()
    content_hash = serializers.CharField(help_text="SHA-256 of the replayed terms.")
    periods = serializers.IntegerField(
        help_text="The span replayed, in months: every target's periods ending inside it."
    )
    until = serializers.DateField()
    months = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        help_text="The span's months (YYYY-MM), oldest first.",
    )
    computed_at = serializers.DateTimeField()
    summary = serializers.ListField(child=serializers.CharField())
    proposed = ReplaySideSerializer()
    current = ReplaySideSerializer(allow_null=True)
    upload = ReplayUploadedSerializer(
        required=False, help_text="Present when replayed on an uploaded export."
    )


# One replay per agreement: the endpoint is the viewset's list action, but it answers one
# object, not an array (drf-spectacular would otherwise document a list).
@extend_schema_serializer(many=False)
class ReplayProgressSerializer(serializers.Serializer):
    """A replay still running in the background: ask the same URL again."""

    # Plain text, not an enum: "state" names other choice sets in the schema already.
    state = serializers.CharField(help_text="queued, running or failed (error says why).")
    done = serializers.IntegerField()
    total = serializers.IntegerField()
    percent = serializers.IntegerField()
    error = serializers.CharField(allow_blank=True)
    upload = serializers.CharField(
        allow_blank=True, help_text="For a replay on an upload: ask GET ...?upload=<this>."
    )
