"""The OpenAPI schema says what the API really answers, errors included.

drf-spectacular describes each operation from its serializer and the responses its view
declares. Two things it cannot know are added here, once for every operation, so that a new
endpoint is described as truthfully as the old ones (``tests/test_api_schemathesis.py`` sends
generated requests to every operation and fails on an answer the schema does not describe):

* the answers every operation can give whatever its view: ``403`` (no or bad credentials, a
  token without the scope, a role that may not), ``429`` past a rate limit and ``503`` when
  the database cannot answer, both with ``Retry-After``; ``404`` where the path names a row or
  a list is paginated (a page past the end); ``400`` where a list takes filters;
  ``415`` where a body is read;
* what a read-only model field may hold: a field stored ``blank`` or ``null`` is read back as
  ``""`` or ``null``, which a read-only serializer field does not declare
  (:class:`PortalAutoSchema`).

Times are ``HH:MM[:SS[.ffffff]]`` without an offset, which JSON Schema's ``time`` format
(RFC 3339, offset required) refuses: their format becomes a pattern. A choice between
components without a discriminator (``PolymorphicProxySerializer``: a source as a provider
or as a customer sees it) is an ``anyOf``: the provider's view has every field of the
customer's, so it matches both, which ``oneOf`` forbids.
"""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from drf_spectacular.openapi import AutoSchema
from rest_framework import serializers

ERROR = "Error"
FIELD_ERRORS = "FieldErrors"
TIME_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?$"

RETRY_AFTER = {
    "Retry-After": {
        "schema": {"type": "integer", "minimum": 1},
        "description": "Seconds to wait before trying again.",
    }
}


def _error(description: str, *, retry: bool = False, schema: str = ERROR) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }
    if retry:
        response["headers"] = RETRY_AFTER
    return response


EVERY_OPERATION = {
    "403": _error(
        "Not signed in, an invalid or revoked token, a token without the scope this request "
        "needs, or a role that may not do this."
    ),
    "429": _error("Too many requests: past this client's rate limit.", retry=True),
    "503": _error(
        "The database cannot answer now (down, restarting, a lock timeout); nothing was "
        "changed. Send the same request again after Retry-After.",
        retry=True,
    ),
}
NOT_FOUND = _error("No such row, or not visible to you; or a page past the last one.")
BAD_FILTER = _error("A filter's value is not valid: the field and the reason.", schema=FIELD_ERRORS)
UNSUPPORTED_MEDIA = _error("The body's Content-Type is not one this operation reads.")
COMPONENTS = {
    ERROR: {
        "type": "object",
        "description": "An error that concerns the whole request.",
        "properties": {"detail": {"type": "string"}},
        "required": ["detail"],
    },
    FIELD_ERRORS: {
        "type": "object",
        "description": "For each field in error, the reasons (nested like the request).",
        "additionalProperties": {},
    },
}
# Query parameters that are not filters: a bad page is a 404, not a 400.
NOT_FILTERS = {"page", "format"}


def document_errors(result: dict, generator, request, public) -> dict:
    """POSTPROCESSING_HOOKS: every operation's possible error answers (module docstring)."""
    result.setdefault("components", {}).setdefault("schemas", {}).update(COMPONENTS)
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            responses = operation.setdefault("responses", {})
            parameters = operation.get("parameters", [])
            query = {p["name"] for p in parameters if p.get("in") == "query"}
            names_a_row = any(p.get("in") == "path" for p in parameters)
            paginated = "page" in query
            extra = dict(EVERY_OPERATION)
            if names_a_row or paginated:
                extra["404"] = NOT_FOUND
            if method == "get" and query - NOT_FILTERS:
                extra["400"] = BAD_FILTER
            if "requestBody" in operation:
                extra["415"] = UNSUPPORTED_MEDIA
            for status, response in extra.items():
                responses.setdefault(status, response)
            operation["responses"] = dict(sorted(responses.items()))
    _rewrite_formats(result)
    return result


DRF_DECIMAL = re.compile(r"^\^(-\?)?\\d\{0,(\d+)\}\(\?:\\\.\\d\{0,(\d+)\}\)\?\$$")


def _decimal_pattern(pattern: str) -> str:
    """drf-spectacular's ``^-?\\d{0,8}(?:\\.\\d{0,2})?$`` also matches ``""``, ``"-"`` and
    ``"."``, which DRF refuses ("A valid number is required."): at least one digit."""
    match = DRF_DECIMAL.match(pattern)
    if match is None:
        return pattern
    sign, whole, places = match[1] or "", int(match[2]), int(match[3])
    if whole == 0:
        return rf"^{sign}0?\.\d{{1,{places}}}$" if places else pattern
    fraction = rf"(\.\d{{0,{places}}})?" if places else ""
    only_fraction = rf"|\.\d{{1,{places}}}" if places else ""
    return rf"^{sign}(\d{{1,{whole}}}{fraction}{only_fraction})$"


def _rewrite_formats(node: Any) -> None:
    """Also turns choices between components into ``anyOf`` (module docstring)."""
    if isinstance(node, dict):
        if node.get("type") == "string" and node.get("format") == "time":
            del node["format"]
            node["pattern"] = TIME_PATTERN
        if node.get("format") == "decimal" and isinstance(node.get("pattern"), str):
            node["pattern"] = _decimal_pattern(node["pattern"])
        choices = node.get("oneOf")
        if (
            choices
            and "discriminator" not in node
            and all(set(choice) == {"$ref"} for choice in choices)
            and not any(choice["$ref"].endswith("Enum") for choice in choices)
        ):
            node["anyOf"] = node.pop("oneOf")
        for value in node.values():
            _rewrite_formats(value)
    elif isinstance(node, list):
        for value in node:
            _rewrite_formats(value)


class PortalAutoSchema(AutoSchema):
    """drf-spectacular's schema, with read-only fields as the database stores them and
    closed request bodies where the serializer refuses unknown fields."""

    def _map_basic_serializer(self, serializer, direction):
        schema = super()._map_basic_serializer(serializer, direction)
        # StrictFieldsMixin (agreements.serializers) answers 400 to a key it does not know.
        if direction == "request" and getattr(serializer, "refuses_unknown_fields", False):
            schema["additionalProperties"] = False
        return schema

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        if field.read_only:
            model_field = _model_field(field)
            if model_field is not None and not model_field.many_to_many:
                # Read-only fields take no input, so these flags only change the schema.
                if model_field.null:
                    field.allow_null = True
                if model_field.blank and isinstance(field, serializers.ChoiceField):
                    field.allow_blank = True
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        # A decimal as a string cannot carry "minimum": a field that refuses negative values
        # (money, percentages) gets a pattern without the minus sign instead.
        if (
            isinstance(field, serializers.DecimalField)
            and field.min_value is not None
            and field.min_value >= 0
            and isinstance(schema.get("pattern"), str)
        ):
            schema["pattern"] = schema["pattern"].replace("^-?", "^", 1)
        return schema


def _model_field(field: serializers.Field):
    """The model field a serializer field reads, when it reads one directly."""
    meta = getattr(field.parent, "Meta", None)
    model = getattr(meta, "model", None)
    source = getattr(field, "source", None)
    if model is None or not source or source == "*" or "." in source:
        return None
    try:
        model_field = model._meta.get_field(source)
    except FieldDoesNotExist:
        return None
    # A reverse relation is no column of this model.
    return None if model_field.auto_created and not model_field.concrete else model_field
