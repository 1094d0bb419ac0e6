"""Burn-rate rules in the agreement editor's "advanced" part of a target row
(docs/burn-rates.md): saved as JSON, refused with the rule and field named, kept when the row
is saved without touching them, and handed on from a tier's target."""

from __future__ import annotations

import json

from agreements.models import Target
from tests.test_agreement_editor import edit_url, field_values
from tests.test_agreement_editor import page_data as saved_rows

RULES = [
    {"name": "fast", "severity": "page", "long_seconds": 600, "short_seconds": 60, "factor": 10}
]


def page_data(response) -> dict:
    """What the browser posts back unchanged, the empty "new" row included (its metric is
    preset where the section has one metric only, as here)."""
    data = saved_rows(response)
    data.update(field_values(response.context["targets"].forms[-1]))
    return data


def availability_row(response) -> int:
    return next(
        i
        for i, form in enumerate(response.context["targets"].forms)
        if form.instance.pk and form.instance.metric == "availability"
    )


def test_rules_are_edited_in_the_targets_advanced_part(client, alice_manager, acme_agreement):
    client.force_login(alice_manager)
    url = edit_url(acme_agreement, "availability")
    response = client.get(url)
    assert b"Advanced: burn-rate alert rules" in response.content
    assert b"(default set)" in response.content
    data = page_data(response)
    index = availability_row(response)
    data[f"targets-{index}-burn_rules"] = json.dumps(RULES)
    assert client.post(url, data).status_code == 302
    target = Target.objects.get(agreement=acme_agreement, metric="availability")
    assert target.burn_rules == RULES

    # Saved again untouched: the rules stay.
    response = client.get(url)
    assert b"own rules" in response.content
    assert client.post(url, page_data(response)).status_code == 302
    target.refresh_from_db()
    assert target.burn_rules == RULES


def test_bad_rules_are_shown_on_the_field_and_nothing_is_saved(
    client, alice_manager, acme_agreement
):
    client.force_login(alice_manager)
    url = edit_url(acme_agreement, "availability")
    response = client.get(url)
    data = page_data(response)
    index = availability_row(response)
    data[f"targets-{index}-burn_rules"] = json.dumps([{**RULES[0], "short_seconds": 900}])
    response = client.post(url, data)
    assert response.status_code == 400
    assert "Rule 1, short_seconds: The short window is shorter than the long one." in (
        response.content.decode()
    )
    data[f"targets-{index}-burn_rules"] = "[{name: fast"
    response = client.post(url, data)
    assert response.status_code == 400 and "Enter a valid JSON" in response.content.decode()
    assert Target.objects.get(agreement=acme_agreement, metric="availability").burn_rules is None


def test_a_tier_targets_rules_reach_agreements_made_from_it(tiers, acme, services, alice_manager):
    from datetime import date

    from agreements.services.drafting import agreement_create_from_tier

    tier_target = tiers["gold"].targets.get(metric="availability")
    tier_target.burn_rules = RULES
    tier_target.save()
    agreement = agreement_create_from_tier(
        tier=tiers["gold"],
        customer=acme,
        title="Portal",
        services=[services["portal"]],
        effective_from=date(2026, 1, 1),
        effective_to=None,
        created_by=alice_manager,
    )
    assert agreement.targets.get(metric="availability").burn_rules == RULES


def test_deeply_nested_or_huge_rules_are_refused_on_the_field(
    client, alice_manager, acme_agreement
):
    client.force_login(alice_manager)
    url = edit_url(acme_agreement, "availability")
    response = client.get(url)
    data = page_data(response)
    index = availability_row(response)
    data[f"targets-{index}-burn_rules"] = "[" * 5000 + "]" * 5000
    response = client.post(url, data)
    assert response.status_code == 400
    assert "nested too deeply or malformed" in response.content.decode()
    data[f"targets-{index}-burn_rules"] = "[" + " " * 30000 + "]"
    response = client.post(url, data)
    assert response.status_code == 400 and "At most 20000 characters" in response.content.decode()
    assert Target.objects.get(agreement=acme_agreement, metric="availability").burn_rules is None


def test_rules_that_differ_from_the_tiers_show_in_the_tier_comparison(acme_agreement):
    from agreements.tier_differences import differing_target_ids, tier_differences

    assert tier_differences(acme_agreement) == []
    target = Target.objects.get(agreement=acme_agreement, metric="availability")
    target.burn_rules = []  # empty: the default set, as the tier's None
    target.save()
    assert tier_differences(acme_agreement) == []
    target.burn_rules = RULES
    target.save()
    diffs = {d.what: (d.tier_value, d.agreement_value) for d in tier_differences(acme_agreement)}
    tier_value, ours = diffs[f"{target.label}: burn rules"]
    assert tier_value == "default set"
    assert ours == "fast (page above 10 over 600 s and 60 s)"
    assert target.pk in differing_target_ids(acme_agreement)
