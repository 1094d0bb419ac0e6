"""Reads of agreements and the catalogue, always scoped to the acting user."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time
from typing import Any

from django.db import models
from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet

from agreements import lifecycle as machine
from agreements.models import (
    Agreement,
    AgreementVersion,
    Calendar,
    CalendarHours,
    ClosureDate,
    Comment,
    CreditBand,
    PriorityDefinition,
    Service,
    Signatory,
    SupportChannel,
    Target,
    Tier,
)
from agreements.sections import SECTIONS
from sla_portal.core.models import User


def _proposed() -> Exists:
    return Exists(AgreementVersion.objects.filter(agreement=OuterRef("pk")))


def _signed() -> Exists:
    return Exists(
        AgreementVersion.objects.filter(agreement=OuterRef("pk"), finalized_at__isnull=False)
    )


def agreements_visible_to(user: User) -> QuerySet[Agreement]:
    """Agreements the user may see: all for the provider; for a customer, its own
    organisation's once proposed to it. A draft is the provider's until it is proposed, so an
    agreement without a version does not exist for a customer (404 on every route).

    Each row carries ``has_final_version`` (a version signed by everyone), so the status can
    say "signed, takes effect on …" without a query per row (see ``status.status_of``)."""
    agreements = (
        Agreement.objects.visible_to(user)
        .select_related("customer", "tier")
        .annotate(has_final_version=_signed())
    )
    if user is not None and user.is_authenticated and user.is_customer:
        agreements = agreements.filter(_proposed())
    return agreements


def versions_visible_to(user: User, agreement: Agreement) -> QuerySet[AgreementVersion]:
    """The versions of an agreement (already found through ``agreements_visible_to``). Every
    version is a proposal, so both sides see them all; the working copy between proposals is
    the provider's and is never a version."""
    return AgreementVersion.objects.filter(agreement=agreement)


def comments_visible_to(user: User, agreement: Agreement) -> QuerySet[Comment]:
    """Comments on an agreement the user may see (found through ``agreements_visible_to``),
    scoped again by the comment's own organisation rule."""
    return Comment.objects.visible_to(user).filter(agreement=agreement)


def agreement_document(user: User, pk: int) -> Agreement:
    """One agreement with everything the document shows, loaded in a fixed number of queries.

    A customer reads what was proposed to it: while the agreement is negotiated (or
    renegotiated), the provider's working copy may hold edits not yet sent, so the customer
    gets the latest version as proposed (see ``agreement_as_proposed``), never the draft.

    Raises ``Agreement.DoesNotExist`` when the user may not see it."""
    [agreement] = agreements_as_proposed(user, [_agreement_with_parts(user, pk)])
    return agreement


def _agreement_with_parts(user: User, pk: int) -> Agreement:
    return (
        agreements_visible_to(user)
        .select_related(
            "support_calendar",
            "created_by",
            "tier__service_calendar",
            "tier__support_calendar",
            "in_force_version",
        )
        .defer("in_force_version__snapshot")
        .prefetch_related(
            "services",
            "service_calendars__hours",
            "support_calendar__hours",
            "signatories",
            "support_channels",
            "priority_definitions",
            "credit_bands",
            Prefetch("targets", queryset=Target.objects.select_related("calendar", "service")),
            "tier__targets",
            "tier__credit_bands",
        )
        .get(pk=pk)
    )


def targets_visible_to(user: User) -> QuerySet[Target]:
    """Targets of the agreements the user may see. For a customer, targets of agreements
    agreed at least once: before that they are a proposal, read in the agreement (as
    proposed) or its versions, never in the provider's working copy."""
    targets = Target.objects.visible_to(user).select_related("agreement", "calendar", "service")
    if user is not None and user.is_authenticated and user.is_customer:
        targets = targets.filter(
            Exists(AgreementVersion.objects.filter(agreement=OuterRef("agreement")))
        ).exclude(agreement__status__in=[machine.DRAFT, machine.IN_NEGOTIATION])
    return targets


def seen_through_proposed_agreements(
    queryset: QuerySet, user: User | None, *paths: str
) -> QuerySet:
    """``queryset`` narrowed, for a customer, to rows reached through an agreement proposed
    to it (``paths`` lead from the row to agreements). A draft is the provider's until it is
    proposed, so a draft naming a shared service or calendar grants its customer no sight of
    it, nor of the service's monitoring data; the provider's rows are left as they are."""
    if user is None or not user.is_authenticated or not user.is_customer:
        return queryset
    proposed = agreements_visible_to(user).values("pk")
    condition = Q()
    for path in paths:
        condition |= Q(**{f"{path}__in": proposed})
    reached = queryset.model._base_manager.filter(condition).values("pk")
    return queryset.filter(pk__in=reached)


def services_visible_to(user: User) -> QuerySet[Service]:
    return (
        seen_through_proposed_agreements(Service.objects.visible_to(user), user, "agreements")
        .select_related("owner")
        .annotate(agreement_count=Count("agreements", distinct=True))
        .order_by("name")
    )


def calendars_visible_to(user: User) -> QuerySet[Calendar]:
    return seen_through_proposed_agreements(
        Calendar.objects.visible_to(user),
        user,
        "service_agreements",
        "support_agreements",
        "targets__agreement",
    ).prefetch_related("hours", "closures")


def tiers_visible_to(user: User) -> QuerySet[Tier]:
    """Tier templates carry pricing: provider users only."""
    return Tier.objects.visible_to(user).prefetch_related("targets", "credit_bands")


# --- The agreement as a version proposed it ------------------------------------------------


class _Rows(list):
    """A list standing in for a related manager's prefetched rows (``.all()`` and len)."""

    def all(self) -> _Rows:
        return self


def _value(model: type[models.Model], name: str, text: Any) -> Any:
    """A snapshot's text (``snapshot._text``) as the field's Python value."""
    field = model._meta.get_field(name)
    if text is None:
        return None if field.null else field.get_default()
    if isinstance(field, models.BooleanField):
        return text == "true"
    return field.to_python(text)


def _unsaved(model: type[models.Model], row: dict, names: tuple[str, ...]) -> Any:
    return model(**{name: _value(model, name, row.get(name)) for name in names if name in row})


def _clock(text: str) -> time:
    return time.fromisoformat(text)


@dataclass(frozen=True)
class _Current:
    """Today's rows named by snapshots (by their unique names): ids for links and API ids."""

    calendars: dict[str, tuple[int, str]]  # name -> (id, description)
    services: dict[str, int]

    @classmethod
    def of(cls, user: User, snapshots: list[dict]) -> _Current:
        calendar_names = {row["name"] for s in snapshots for row in s.get("calendars", [])}
        service_names = {name for s in snapshots for name in s.get("terms", {}).get("services", [])}
        service_names |= {
            t["service"] for s in snapshots for t in s.get("targets", []) if t.get("service")
        }
        calendars = (
            {
                name: (pk, description)
                for name, pk, description in Calendar.objects.visible_to(user)
                .filter(name__in=calendar_names)
                .values_list("name", "pk", "description")
            }
            if calendar_names
            else {}
        )
        services = (
            dict(
                Service.objects.visible_to(user)
                .filter(name__in=service_names)
                .values_list("name", "pk")
            )
            if service_names
            else {}
        )
        return cls(calendars, services)


def _snapshot_calendars(snapshot: dict, current: _Current) -> dict[str, Calendar]:
    """The calendars of the snapshot as they were proposed (hours, zone, holidays), each with
    the id and description of today's calendar of that name, so the document can link to it
    (the description is not part of what is agreed)."""
    rows = snapshot.get("calendars", [])
    calendars = {}
    for row in rows:
        pk, description = current.calendars.get(row["name"], (None, ""))
        calendar = Calendar(
            pk=pk,
            name=row["name"],
            description=description,
            timezone=row.get("timezone") or "UTC",
            is_24x7=row.get("is_24x7") == "true",
            holiday_country=row.get("holiday_country") or "",
            holiday_subdivision=row.get("holiday_subdivision") or "",
        )
        calendar._prefetched_objects_cache = {
            "hours": _Rows(
                CalendarHours(weekday=int(day), start=_clock(start), end=_clock(end))
                for day, start, end in row.get("hours", [])
            ),
            "closures": _Rows(
                ClosureDate(date=date.fromisoformat(day), reason=reason)
                for day, reason in row.get("closures", [])
            ),
        }
        calendars[calendar.name] = calendar
    return calendars


RELATED_MODELS = {
    "signatories": Signatory,
    "support_channels": SupportChannel,
    "priority_definitions": PriorityDefinition,
    "credit_bands": CreditBand,
}
# The snapshot keeps rows in a canonical order for its hash; the document lists them in the
# order of the models (the order the working copy shows).
RELATED_ORDER = {
    "signatories": lambda row: (row.side, row.name),
    "support_channels": lambda row: row.kind,
    "priority_definitions": lambda row: row.priority,
    "credit_bands": lambda row: (row.metric, -row.achieved_below),
}


def agreements_as_proposed(user: User, agreements: list[Agreement]) -> list[Agreement]:
    """What a customer reads of each agreement: while it is negotiated (or renegotiated) the
    provider's working copy may hold edits not yet sent, so the customer gets the latest
    version as proposed (``agreement_as_proposed``); otherwise the agreement itself, which
    equals its agreed version. Three queries for any number of agreements."""
    editable = [a.pk for a in agreements if a.status in machine.EDITABLE_STATES]
    if not user.is_customer or not editable:
        return list(agreements)
    latest: dict[int, AgreementVersion] = {}
    for version in AgreementVersion.objects.filter(agreement_id__in=editable).order_by(
        "agreement_id", "-number"
    ):
        latest.setdefault(version.agreement_id, version)
    current = _Current.of(user, [v.snapshot for v in latest.values()])
    return [
        agreement_as_proposed(agreement, latest[agreement.pk], user, current)
        if agreement.pk in latest
        else agreement
        for agreement in agreements
    ]


def agreement_as_proposed(
    agreement: Agreement,
    version: AgreementVersion,
    user: User,
    current: _Current | None = None,
) -> Agreement:
    """The agreement as ``version`` proposed it: an unsaved copy of the row whose terms,
    sections, related lists, targets and calendars come from the version's snapshot, for the
    document, the PDF and the API. Identity (id, reference, customer, status, versions) stays
    the agreement's own; services, calendars and targets carry today's ids where rows of
    those names still exist. Never saved: it exists to be read."""
    snapshot = version.snapshot
    current = current or _Current.of(user, [snapshot])
    copy = Agreement()
    for field in Agreement._meta.concrete_fields:
        setattr(copy, field.attname, getattr(agreement, field.attname))
    copy._state.adding = False
    copy._state.db = agreement._state.db
    for relation in ("customer", "tier", "created_by", "in_force_version"):
        if Agreement._meta.get_field(relation).is_cached(agreement):
            setattr(copy, relation, getattr(agreement, relation))
    copy.has_final_version = getattr(agreement, "has_final_version", None)
    copy.shown_version = version

    terms = snapshot.get("terms", {})
    copy.title = terms.get("title") or agreement.title
    for name in ("effective_from", "effective_to", "review_interval_months"):
        if name in terms:
            setattr(copy, name, _value(Agreement, name, terms[name]))

    calendars = _snapshot_calendars(snapshot, current)

    def service(name: str) -> Service:
        return Service(pk=current.services.get(name), name=name)

    cache: dict[str, Any] = {
        "services": _Rows(service(name) for name in terms.get("services", [])),
        "service_calendars": _Rows(),
    }
    for section in SECTIONS:
        stored = snapshot["sections"].get(section.key, {"fields": {}, "related": {}})
        for name, text in stored["fields"].items():
            if name == "service_calendars":
                cache[name] = _Rows(calendars[n] for n in text if n in calendars)
            elif name == "support_calendar":
                calendar = calendars.get(text) if text else None
                copy.support_calendar_id = calendar.pk if calendar else None
                Agreement._meta.get_field("support_calendar").set_cached_value(copy, calendar)
            else:
                setattr(
                    copy, Agreement._meta.get_field(name).attname, _value(Agreement, name, text)
                )
        for name, rows in stored["related"].items():
            model = RELATED_MODELS[name]
            fields = tuple(f.name for f in model._meta.concrete_fields if not f.is_relation)
            cache[name] = _Rows(
                sorted((_unsaved(model, row, fields) for row in rows), key=RELATED_ORDER[name])
            )
    # Targets in the editor's order where the working copy still has them.
    places = {"|".join(t.scope_key): (t.position, t.pk or 0) for t in agreement.targets.all()}
    target_fields = tuple(f.name for f in Target._meta.concrete_fields if not f.is_relation)
    targets = _Rows()
    for row in snapshot.get("targets", []):
        target = _unsaved(Target, row, target_fields)
        target.agreement_id = agreement.pk
        target.position = places.get("|".join(target.scope_key), (None, 0))[0] or 0
        # "24x7" is also how the snapshot spells "no calendar"; a calendar of that name is
        # among the snapshot's calendars when a target used it.
        calendar = calendars.get(row.get("calendar") or "")
        if row.get("calendar_own") == "false":
            # Measured in its section's calendar: left empty, so it is inherited as proposed.
            calendar = None
        target.calendar_id = calendar.pk if calendar else None
        Target._meta.get_field("calendar").set_cached_value(target, calendar)
        named = service(row["service"]) if row.get("service") else None
        target.service_id = named.pk if named else None
        Target._meta.get_field("service").set_cached_value(target, named)
        targets.append(target)
    targets.sort(
        key=lambda t: (places.get("|".join(t.scope_key), (10**9, 0)), t.metric, t.priority)
    )
    cache["targets"] = targets
    copy._prefetched_objects_cache = cache
    return copy
