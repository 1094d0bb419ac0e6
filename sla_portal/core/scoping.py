"""The one tenant-scoping rule of the portal.

Every model holding customer data declares ``scope_paths``: the lookups from the model to the
customer organisation(s) that may see a row. Every view, API endpoint, export, email and task
gets its rows through ``visible_to(user)`` or ``for_organisation(org)``:

* provider users (and superusers) see everything;
* customer users see only rows whose scope path leads to their own organisation;
* anyone else (anonymous, inactive, no organisation) sees nothing;
* a model with empty ``scope_paths`` is provider-only;
* a model whose rule is not a path (monitoring data belongs to the source that sent it, and a
  provider-shared source's data is seen through the customer's proposed agreements) defines a
  classmethod ``scope_condition(organisation_id) -> Q`` instead, which then decides alone.
"""

from __future__ import annotations

from typing import Any, Protocol

from django.db import models
from django.db.models import Q


class Organisation(Protocol):
    """What scoping needs of an organisation (``sla_portal.core.models.Organisation``, whose
    managers are built from this module, so it cannot be imported here)."""

    pk: Any
    is_provider: bool


class ScopedQuerySet(models.QuerySet):
    def for_organisation(self, organisation: Organisation | None) -> ScopedQuerySet:
        """Rows the given organisation may see (all rows for the provider)."""
        if organisation is None:
            return self.none()
        if organisation.is_provider:
            return self
        condition_of = getattr(self.model, "scope_condition", None)
        if condition_of is not None:
            return self.filter(condition_of(organisation.pk))
        paths: tuple[str, ...] = getattr(self.model, "scope_paths", ())
        if not paths:
            return self.none()
        condition = Q()
        needs_distinct = False
        for path in paths:
            lookup, repeats = _scope_condition(self.model, path, organisation.pk)
            condition |= lookup
            needs_distinct |= repeats
        scoped = self.filter(condition)
        # Paths through to-many relations joined directly can repeat a row once per match.
        return scoped.distinct() if needs_distinct else scoped

    def visible_to(self, user: Any) -> ScopedQuerySet:
        """Rows the acting user may see."""
        if user is None or not user.is_authenticated or not user.is_active:
            return self.none()
        if user.is_superuser:
            return self
        return self.for_organisation(user.organisation)


def _scope_condition(model: type[models.Model], path: str, organisation_id: int) -> tuple[Q, bool]:
    """The condition for one scope path, and whether it can repeat rows.

    A path that starts with a foreign key and goes on through to-many relations (an uptime
    check's ``service__agreements__customer``) becomes ``service IN (services the
    organisation may see)``: no join of the big table, no repeated rows, no DISTINCT, so a
    hundred-million-row table is read through its own ``(service, …)`` index.
    """
    first, _, rest = path.partition("__")
    if not rest:
        return Q(**{path: organisation_id}), False
    field = model._meta.get_field(first)
    if not (field.many_to_one or field.one_to_one) or not field.concrete:
        return Q(**{path: organisation_id}), True
    related = field.related_model
    allowed = related._base_manager.filter(**{rest: organisation_id}).values("pk")
    return Q(**{f"{first}__in": allowed}), False


ScopedManager = models.Manager.from_queryset(ScopedQuerySet)
