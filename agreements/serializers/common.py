"""What the serializers of agreements (and of the apps above) share: the 409 answer, the
editable-agreement guard, Django errors as API errors, related fields chosen through the
acting user's selectors, and strict fields (an unknown field is an error, not ignored).

Related rows are chosen through the selectors for the acting user, so an id the user may not
see reads exactly like an id that does not exist.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from django.db.models import QuerySet
from rest_framework import serializers, status
from rest_framework.exceptions import APIException
from rest_framework.settings import api_settings

from agreements.models import Agreement, Tier
from agreements.selectors import agreements_visible_to, tiers_visible_to
from sla_portal.core.models import Organisation, User
from sla_portal.core.selectors import organisations_visible_to, users_visible_to

# --- Shared pieces -------------------------------------------------------------------------


class Conflict(APIException):
    """The request is valid but the resource's current state does not allow it (HTTP 409)."""

    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state of the resource."
    default_code = "conflict"


def not_editable_reason(agreement: Agreement) -> str:
    return agreement.not_editable_reason


def ensure_editable(agreement: Agreement, field: str = "status") -> None:
    """Refuse with 409 unless the agreement is still drafted or negotiated."""
    if not agreement.is_editable:
        raise Conflict({field: [not_editable_reason(agreement)]})


def lock_editable(user: User, agreement: Agreement, field: str = "status") -> None:
    """Lock the agreement row for the running transaction and check it is still editable.

    The early check in the view gives the clear 409; this one closes the gap between that check
    and the write, should the lifecycle move the agreement on in between."""
    locked = (
        agreements_visible_to(user)
        .select_related(None)
        .select_for_update()
        .only("id", "status", "reference")
        .get(pk=agreement.pk)
    )
    ensure_editable(locked, field)


def django_errors(exc: DjangoValidationError, section_of: Mapping[str, str] | None = None) -> dict:
    """A model's ValidationError in DRF's shape, `{field: [reasons]}`.

    With `section_of`, agreement fields are placed where the request carried them:
    `{"sections": {"charges": {"fee_amount": [...]}}}`."""
    if not hasattr(exc, "error_dict"):
        return {api_settings.NON_FIELD_ERRORS_KEY: exc.messages}
    errors: dict[str, Any] = {}
    for field, messages in exc.message_dict.items():
        key = api_settings.NON_FIELD_ERRORS_KEY if field == NON_FIELD_ERRORS else field
        section = (section_of or {}).get(key)
        if section:
            place = errors.setdefault("sections", {}).setdefault(section, {})
            place.setdefault(key, []).extend(messages)
        else:
            errors.setdefault(key, []).extend(messages)
    return errors


def full_clean(
    instance: models.Model,
    section_of: Mapping[str, str] | None = None,
    exclude: tuple[str, ...] = (),
) -> None:
    """Run the model's own rules (clean, constraints, uniqueness) and answer in DRF's shape."""
    try:
        instance.full_clean(exclude=exclude)
    except DjangoValidationError as exc:
        raise serializers.ValidationError(django_errors(exc, section_of)) from exc


class ScopedRelatedFieldMixin:
    """Choices come from a selector taking the acting user (never from `Model.objects`)."""

    def __init__(self, *, selector: Callable[[User], QuerySet], **kwargs: Any) -> None:
        self.selector = selector
        super().__init__(**kwargs)

    def get_queryset(self) -> QuerySet:
        return self.selector(self.context["request"].user)


class ScopedPrimaryKeyRelatedField(ScopedRelatedFieldMixin, serializers.PrimaryKeyRelatedField):
    pass


class ScopedSlugRelatedField(ScopedRelatedFieldMixin, serializers.SlugRelatedField):
    pass


class StrictFieldsMixin:
    """Reject keys the serializer does not know, so a misspelt field is an error instead of
    being silently ignored, and read-only keys, so a write never looks as if it changed what
    it cannot (``customer``, ``tier``, ``id``, a comment's ``author``). A read-only value
    equal to the stored one is let through, so a GET's body can be sent back with changes
    to the writable fields."""

    # Read by the OpenAPI schema (sla_portal.core.openapi): request bodies of these
    # serializers are documented with ``additionalProperties: false``.
    refuses_unknown_fields = True

    def unknown_field_errors(self, data: Mapping) -> dict[str, list[str]]:
        known = ", ".join(name for name, field in self.fields.items() if not field.read_only)
        errors = {
            key: [f"Unknown field; the writable fields here are: {known}."]
            for key in data
            if key not in self.fields
        }
        for key in data:
            field = self.fields.get(key)
            if field is not None and field.read_only and not self._unchanged(field, data[key]):
                errors[key] = [f"Read-only field; it cannot be set here. Writable: {known}."]
        return errors

    def _unchanged(self, field: serializers.Field, value: Any) -> bool:
        instance = getattr(self, "instance", None)
        if instance is None or isinstance(field, serializers.HiddenField):
            return False
        try:
            current = field.to_representation(field.get_attribute(instance))
        except Exception:  # any doubt means "changed": refuse
            return False
        return _plain(current) == _plain(value)

    def to_internal_value(self, data: Any) -> Any:
        errors = self.unknown_field_errors(data) if isinstance(data, Mapping) else {}
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            if isinstance(exc.detail, dict):
                raise serializers.ValidationError({**exc.detail, **errors}) from exc
            raise
        if errors:
            raise serializers.ValidationError(errors)
        return value


def _plain(value: Any) -> Any:
    """A representation as JSON would carry it, to compare with what a client sent."""
    return json.loads(json.dumps(value, default=str))


def customers_visible_to(user: User) -> QuerySet[Organisation]:
    return organisations_visible_to(user).filter(kind=Organisation.Kind.CUSTOMER)


def provider_users_visible_to(user: User) -> QuerySet[User]:
    return users_visible_to(user).filter(organisation__kind=Organisation.Kind.PROVIDER)


def active_tiers_visible_to(user: User) -> QuerySet[Tier]:
    return tiers_visible_to(user).filter(is_active=True)


# Ranges the database guards with CheckConstraints, checked here first so the answer names the
# field instead of the constraint.
PERCENT = {"min_value": Decimal("0"), "max_value": Decimal("100")}
MONEY = {"min_value": Decimal("0")}
REVIEW_MONTHS = {"min_value": 1, "max_value": 60}
