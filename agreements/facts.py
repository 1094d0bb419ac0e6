"""The plain values ``agreements.completeness`` judges, read from a stored agreement, and
the verdict on them: which sections are complete and what each still misses."""

from __future__ import annotations

from django.db.models import Count, Q

from agreements.completeness import AgreementFacts, Completeness, TargetFacts, completeness
from agreements.models import Agreement
from agreements.sections import SECTIONS


def agreement_facts(agreement: Agreement) -> AgreementFacts:
    """The plain values :mod:`agreements.completeness` judges."""
    names = {name for section in SECTIONS for name in section.fields}
    names -= {"service_calendars"}
    fields = {name: getattr(agreement, name) for name in names if name != "support_calendar"}
    fields["support_calendar"] = agreement.support_calendar_id
    counts = _related_counts(agreement)
    targets = tuple(
        TargetFacts(t.metric, t.label, t.target_value, t.threshold_value)
        for t in agreement.targets.all()
    )
    return AgreementFacts(fields=fields, counts=counts, targets=targets)


RELATED_LISTS = ("support_channels", "priority_definitions", "credit_bands", "service_calendars")


def _related_counts(agreement: Agreement) -> dict[str, int]:
    prefetched = getattr(agreement, "_prefetched_objects_cache", {})
    if all(name in prefetched for name in (*RELATED_LISTS, "signatories")):
        # The document's selector prefetched the lists: count them without a query.
        sides = [s.side for s in agreement.signatories.all()]
        counts = {name: len(getattr(agreement, name).all()) for name in RELATED_LISTS}
        counts["signatories_provider"] = sides.count("provider")
        counts["signatories_customer"] = sides.count("customer")
        return counts
    # One query for every count.
    return Agreement.objects.filter(pk=agreement.pk).aggregate(
        **{name: Count(name, distinct=True) for name in RELATED_LISTS},
        signatories_provider=Count(
            "signatories", filter=Q(signatories__side="provider"), distinct=True
        ),
        signatories_customer=Count(
            "signatories", filter=Q(signatories__side="customer"), distinct=True
        ),
    )


def agreement_completeness(agreement: Agreement) -> Completeness:
    """Which sections are complete, what each still misses, and which gaps stop a proposal."""
    return completeness(agreement_facts(agreement))


def missing_sections(agreement: Agreement) -> dict[str, list[str]]:
    """Per section key, what is still missing (a section without an entry is complete)."""
    return agreement_completeness(agreement).missing
