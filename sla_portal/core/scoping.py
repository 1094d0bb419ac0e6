"""The one tenant-scoping rule of the portal.

Every model holding customer data declares ``scope_paths``: the lookups from the model to the
customer organisation(s) that may see a row. Every view, API endpoint, export, email and task
gets its rows through ``visible_to(user)`` or ``for_organisation(org)``:

* provider users (and superusers) see everything;
* customer users see only rows whose scope path leads to their own organisation;
* anyone else (anonymous, inactive, no organisation) sees nothing;
* a model with empty ``scope_paths`` is provider-only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import models
from django.db.models import Q

if TYPE_CHECKING:
    from .models import Organisation


class ScopedQuerySet(models.QuerySet):
    def for_organisation(self, organisation: Organisation | None) -> ScopedQuerySet:
        """Rows the given organisation may see (all rows for the provider)."""
        if organisation is None:
            return self.none()
        if organisation.is_provider:
            return self
        paths: tuple[str, ...] = getattr(self.model, "scope_paths", ())
        if not paths:
            return self.none()
        condition = Q()
        for path in paths:
            condition |= Q(**{path: organisation.pk})
        scoped = self.filter(condition)
        # Paths through to-many relations can repeat a row once per match.
        if any("__" in path for path in paths):
            scoped = scoped.distinct()
        return scoped

    def visible_to(self, user: Any) -> ScopedQuerySet:
        """Rows the acting user may see."""
        if user is None or not user.is_authenticated or not user.is_active:
            return self.none()
        if user.is_superuser:
            return self
        return self.for_organisation(user.organisation)


ScopedManager = models.Manager.from_queryset(ScopedQuerySet)
