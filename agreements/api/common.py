"""What the REST endpoints of agreements (and of the apps above) share: the 409 for deleting a
row still in use, the common error responses of the OpenAPI schema, and the CRUD schema.
"""

from __future__ import annotations

from typing import Any

from django.db import models, transaction
from django.db.models import ProtectedError, RestrictedError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework.serializers import BaseSerializer

from agreements.serializers.common import Conflict


class CatalogueDestroyMixin:
    """Deleting a row still in use answers 409 with what uses it, instead of failing or
    silently dropping it from agreements."""

    # Many-to-many relations that would quietly lose the row, so they are checked first.
    in_use_relations: tuple[str, ...] = ()

    def perform_destroy(self, instance: models.Model) -> None:
        users: dict[type[models.Model], int] = {}
        for relation in self.in_use_relations:
            manager = getattr(instance, relation)
            if count := manager.count():
                users[manager.model] = count
        if users:
            raise Conflict({"detail": _in_use_reason(instance, users)})
        try:
            with transaction.atomic():
                instance.delete()
        except (ProtectedError, RestrictedError) as exc:
            for row in exc.protected_objects:
                users[type(row)] = users.get(type(row), 0) + 1
            raise Conflict({"detail": _in_use_reason(instance, users)}) from exc


def _in_use_reason(instance: models.Model, users: dict[type[models.Model], int]) -> str:
    used_by = ", ".join(
        f"{count} {model._meta.verbose_name if count == 1 else model._meta.verbose_name_plural}"
        for model, count in users.items()
    )
    return f"{instance} is still used by {used_by}; change those first."


# --- Examples shown in the OpenAPI schema --------------------------------------------------

FORBIDDEN = OpenApiResponse(
    OpenApiTypes.OBJECT,
    description="Only service managers and provider admins write.",
    examples=[
        OpenApiExample(
            "Not a service manager", value={"detail": "Only service managers may change this."}
        )
    ],
)
TIERS_ARE_PROVIDERS = "Tier templates carry the provider's pricing: provider staff only."
PROVIDER_ONLY = OpenApiResponse(
    OpenApiTypes.OBJECT,
    description="Provider staff only.",
    examples=[OpenApiExample("Customer user", value={"detail": TIERS_ARE_PROVIDERS})],
)
NOT_FOUND = OpenApiResponse(
    OpenApiTypes.OBJECT,
    description="No such row, or not visible to you (the two answer alike).",
    examples=[
        OpenApiExample("Not found", value={"detail": "No Agreement matches the given query."})
    ],
)


def bad_request_response(*examples: OpenApiExample) -> OpenApiResponse:
    return OpenApiResponse(
        OpenApiTypes.OBJECT,
        description="Validation failed: each field lists its reasons; nothing was saved.",
        examples=list(examples),
    )


def conflict_response(*examples: OpenApiExample) -> OpenApiResponse:
    return OpenApiResponse(
        OpenApiTypes.OBJECT,
        description="The current state does not allow the change.",
        examples=list(examples),
    )


NOT_EDITABLE = (
    "SLA-2026-0007 is active: an agreement can only be changed while it is drafted or negotiated."
)
LOCKED = OpenApiExample(
    "Agreement can no longer be changed",
    value={"status": [NOT_EDITABLE]},
)
TARGET_LOCKED = OpenApiExample(
    "Agreement can no longer be changed",
    value={"agreement": [NOT_EDITABLE]},
)
IN_USE = OpenApiExample(
    "Still in use",
    value={"detail": "Berlin office hours is still used by 2 agreements; change those first."},
)


def crud_examples(name: str, response: dict, request: dict | None = None) -> list[OpenApiExample]:
    examples = [OpenApiExample(name, value=response, response_only=True)]
    if request is not None:
        examples.append(OpenApiExample(name, value=request, request_only=True))
    return examples


def crud_schema(
    noun: str,
    serializer: type[BaseSerializer],
    example: dict,
    request: dict,
    update_conflict: OpenApiExample | None = None,
) -> dict[str, Any]:
    """The schema of the standard catalogue operations, each with examples; an update that
    the rows using this one can forbid documents its 409 with ``update_conflict``."""
    bad = bad_request_response(
        OpenApiExample("Field errors", value={"name": [f"{noun} with this name already exists."]})
    )
    conflict = {409: conflict_response(update_conflict)} if update_conflict is not None else {}
    return {
        "list": extend_schema(examples=crud_examples(noun, example)),
        "retrieve": extend_schema(
            examples=crud_examples(noun, example), responses={200: serializer, 404: NOT_FOUND}
        ),
        "create": extend_schema(
            examples=crud_examples(noun, example, request),
            responses={201: serializer, 400: bad, 403: FORBIDDEN},
        ),
        "update": extend_schema(
            examples=crud_examples(noun, example, request),
            responses={200: serializer, 400: bad, 403: FORBIDDEN, 404: NOT_FOUND, **conflict},
        ),
        "partial_update": extend_schema(
            examples=crud_examples(noun, example, {"description": example["description"]}),
            responses={200: serializer, 400: bad, 403: FORBIDDEN, 404: NOT_FOUND, **conflict},
        ),
        "destroy": extend_schema(
            responses={
                204: OpenApiResponse(description="Deleted."),
                403: FORBIDDEN,
                404: NOT_FOUND,
                409: conflict_response(IN_USE),
            }
        ),
    }
