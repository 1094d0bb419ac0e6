"""An agreement in force with experience targets (CSAT, NPS) beside its SLA targets."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from agreements.models import Agreement, Target
from agreements.services import lifecycle
from tests.support.agreements import complete_for_proposal


def sign_with_experience_targets(
    agreement: Agreement,
    manager,
    customer,
    *,
    csat: tuple[str, str, int] | None = ("4.2", "3.8", 3),
    nps: tuple[str, str, int] | None = None,
    only_experience: bool = False,
    effective_from: date | None = None,
    csat_service=None,
) -> Agreement:
    """Add a CSAT target (target, threshold, minimum responses; monthly) and optionally an
    NPS one to the draft, then propose, accept and sign it as ``active_acme_agreement`` does.
    ``only_experience`` drops the tier's other targets, so "every SLA target met" is easy to
    arrange. ``csat_service`` (a ``Service``) scopes the CSAT target to that service."""
    if only_experience:
        agreement.targets.all().delete()
    for metric, spec in (("csat", csat), ("nps", nps)):
        if spec is None:
            continue
        target_value, threshold, min_responses = spec
        Target.objects.create(
            agreement=agreement,
            metric=metric,
            target_value=Decimal(target_value),
            threshold_value=Decimal(threshold),
            unit="score",
            direction="higher",
            period="month",
            data_source="tickets" if metric == "csat" else "surveys",
            min_responses=min_responses,
            position=90,
            service=csat_service if metric == "csat" else None,
        )
    if effective_from is not None:
        agreement.effective_from = effective_from
    agreement.service_description = "Operation of the customer portal."
    agreement.change_policy = "Normal changes go through the CAB."
    complete_for_proposal(agreement)
    version = lifecycle.propose(agreement, manager)
    lifecycle.accept(agreement, customer, version.number)
    lifecycle.sign(agreement, manager)
    lifecycle.sign(agreement, customer)
    agreement.refresh_from_db()
    assert agreement.status == "active"
    return agreement
