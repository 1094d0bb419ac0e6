"""Whose monitoring data counts where, and who may see it.

A service is a shared catalogue row: Acme's and Globex's agreements may both cover "Customer
Portal", and each customer's own monitor may report it. Data therefore belongs to the source
that sent it, never to the service alone:

* it counts for an agreement only when the source's customer is the agreement's customer, or
  when the source is *shared* (``Source.shared``: a provider-owned measurement, such as the
  built-in probe, deliberately counted for every agreement that covers the service). One
  customer's feed reporting a shared service down changes no other customer's figures;
* a customer sees the rows of its own sources, and the rows a shared source recorded for a
  service named in a version of one of its agreements proposed to it. A draft is the provider's
  until proposed, and so is a service added to an agreement under (re)negotiation until a
  version naming it is proposed: linking it grants no sight of anything;
* rows without a source (recorded before every row named one, and not attributable when the
  ownership migration ran) count for no agreement and are seen by the provider only.

Every read that feeds a figure filters with :func:`counted_for`; every customer read goes
through the models' ``scope_condition`` (``sla_portal.core.scoping``), which is
:func:`visible_to_organisation`. Both are ``source_id IN (subquery)`` conditions, so the big
tables are still read through their ``(service, time, …)`` indexes (docs/performance.md).
"""

from __future__ import annotations

from django.db import connection
from django.db.models import CharField, F, Func, Q, QuerySet

from agreements.models import AgreementVersion, Service
from monitoring.models.sources import Source

__all__ = [
    "accepted_services",
    "counted_for",
    "counted_sources",
    "visible_to_organisation",
]


def counted_sources(customer_id: int) -> QuerySet[Source]:
    """The ids (as a subquery) of the sources whose data counts for ``customer_id``'s
    agreements: its own and the provider's shared ones."""
    return Source.objects.filter(Q(customer_id=customer_id) | Q(shared=True)).values("pk")


def counted_for(customer_id: int, field: str = "source") -> Q:
    """The condition on a data row (its source under ``field``) that it counts for the
    agreements of ``customer_id``."""
    return Q(**{f"{field}__in": counted_sources(customer_id)})


def _proposed_services(organisation_id: int) -> QuerySet:
    """Ids (as a subquery) of the services named in a version proposed to the organisation.

    The versions, not the agreements' live service links: while an agreement is renegotiated
    (or still negotiated) its links are the provider's working copy, and a service linked
    there is not the customer's to see until a version naming it is proposed. A draft has no
    version and grants nothing. A signed version stays named, so a service still in force
    stays visible while a renegotiation drops it from the working copy. Versions are few per
    customer; the result is matched to services by their unique name."""
    if connection.vendor != "postgresql":
        # The embedded SQLite of `make run` has no jsonb_array_elements_text: the few
        # versions' service names are read in Python, with the same result.
        snapshots = AgreementVersion.objects.filter(
            agreement__customer_id=organisation_id
        ).values_list("snapshot", flat=True)
        names = {
            name
            for snapshot in snapshots
            for name in ((snapshot or {}).get("terms") or {}).get("services") or []
        }
        return Service.objects.filter(name__in=names).values("pk")
    names = (
        AgreementVersion.objects.filter(agreement__customer_id=organisation_id)
        .annotate(
            service_name=Func(
                F("snapshot__terms__services"),
                function="jsonb_array_elements_text",
                output_field=CharField(),
            )
        )
        .values("service_name")
    )
    return Service.objects.filter(name__in=names).values("pk")


def visible_to_organisation(organisation_id: int) -> Q:
    """The condition on a source-owned row that a customer organisation may see it."""
    own = Source.objects.filter(customer_id=organisation_id).values("pk")
    shared = Source.objects.filter(shared=True).values("pk")
    return Q(source__in=own) | Q(source__in=shared, service__in=_proposed_services(organisation_id))


def accepted_services(source: Source) -> QuerySet[Service]:
    """The services ``source`` may send data for: those its customer's agreements cover, and
    for a shared source those any agreement covers (its data counts for all of them).

    Data for any other service is refused with a per-row error rather than stored and counted
    nowhere: a feed that names a service it has no agreement for is misconfigured, and its
    sender should learn so at once, not find the data missing from every report later."""
    if source.shared:
        return Service.objects.filter(agreements__isnull=False).distinct()
    return Service.objects.filter(agreements__customer_id=source.customer_id).distinct()
