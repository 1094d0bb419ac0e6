"""Shapes of the OpenSLO import and export endpoints (``/api/agreements/<id>/openslo/``)."""

from __future__ import annotations

from rest_framework import serializers


class OpenSLOUploadSerializer(serializers.Serializer):
    """The file as a multipart upload, or its text in a JSON body."""

    file = serializers.FileField(required=False, help_text="An OpenSLO or Sloth YAML file.")
    yaml = serializers.CharField(
        required=False, trim_whitespace=False, help_text="The YAML text itself."
    )


class OpenSLODocumentSerializer(serializers.Serializer):
    document = serializers.IntegerField(help_text="0-based index of the object in the file.")
    api_version = serializers.CharField()
    kind = serializers.CharField()
    name = serializers.CharField(allow_blank=True)


class OpenSLOChangedFieldSerializer(serializers.Serializer):
    before = serializers.CharField(allow_null=True)
    after = serializers.CharField(allow_null=True)


def _text(**kwargs) -> serializers.CharField:
    return serializers.CharField(allow_null=True, allow_blank=True, **kwargs)


class OpenSLOTargetSerializer(serializers.Serializer):
    action = serializers.ChoiceField(["create", "update", "unchanged"])
    target_id = serializers.IntegerField(
        allow_null=True, help_text="The existing target changed (null when added)."
    )
    document = serializers.IntegerField()
    source = serializers.CharField(help_text="Which object and objective gave the target.")
    metric = _text()
    name = _text()
    priority = _text()
    error_category = _text()
    target_value = _text()
    threshold_value = _text()
    unit = _text()
    direction = _text()
    period = _text()
    compliance_target = _text()
    compliance_threshold = _text()
    warning_percent = _text()
    data_source = _text()
    service = _text(help_text="The agreement's service it applies to; null: all of them.")
    calendar = _text()
    changed_fields = serializers.DictField(child=OpenSLOChangedFieldSerializer())


class OpenSLOChangeSerializer(serializers.Serializer):
    """A value the import set or left out by a stated rule."""

    document = serializers.IntegerField(allow_null=True)
    name = serializers.CharField(allow_blank=True)
    path = serializers.CharField(allow_blank=True)
    rule = serializers.CharField()
    message = serializers.CharField()


class OpenSLOErrorSerializer(serializers.Serializer):
    """Why the file cannot be imported: the object (index, kind, name), path and reason."""

    document = serializers.IntegerField(allow_null=True, help_text="null: the file as a whole.")
    kind = serializers.CharField(allow_blank=True)
    name = serializers.CharField(allow_blank=True)
    path = serializers.CharField(allow_blank=True)
    reason = serializers.CharField()


class OpenSLOCountsSerializer(serializers.Serializer):
    create = serializers.IntegerField()
    update = serializers.IntegerField()
    unchanged = serializers.IntegerField()


class OpenSLOResultSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    dry_run = serializers.BooleanField()
    documents = OpenSLODocumentSerializer(many=True)
    targets = OpenSLOTargetSerializer(many=True)
    changes = OpenSLOChangeSerializer(many=True)
    errors = OpenSLOErrorSerializer(many=True)
    counts = OpenSLOCountsSerializer()


class OpenSLORefusalSerializer(OpenSLOResultSerializer):
    detail = serializers.CharField()
