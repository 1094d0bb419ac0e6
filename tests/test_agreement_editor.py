"""The multi-section editor: drafting from a tier, inline SMART errors, nothing half-saved."""

from decimal import Decimal as D

import pytest

from agreements.models import Agreement, Target
from tests.support.agreements import propose_to_customer

pytestmark = pytest.mark.django_db

SECTION_KEYS = [
    "terms",
    "description",
    "hours",
    "availability",
    "support",
    "performance",
    "functionality",
    "charges",
    "continuity",
    "security",
    "changes",
]


def field_values(form) -> dict:
    data = {}
    for bound in form:
        value = bound.value()
        if value is None:
            continue
        if isinstance(value, list | tuple):
            data[bound.html_name] = [str(v) for v in value]
        elif isinstance(value, bool):
            if value:
                data[bound.html_name] = "on"
        else:
            data[bound.html_name] = str(value)
    return data


def page_data(response) -> dict:
    """What the browser would post back unchanged from an editor page."""
    context = response.context
    data = field_values(context["form"])
    formsets = [formset for _n, _t, formset in context["related"]]
    if context["targets"] is not None:
        formsets.append(context["targets"])
    for formset in formsets:
        data.update(field_values(formset.management_form))
        for form in formset.forms:
            if form.instance.pk:
                data.update(field_values(form))
    return data


def edit_url(agreement, section: str) -> str:
    return f"/agreements/{agreement.pk}/edit/{section}/"


def test_manager_creates_an_agreement_from_a_tier(client, alice_manager, tiers, services, acme):
    client.force_login(alice_manager)
    response = client.post(
        "/agreements/new/",
        {
            "tier": tiers["silver"].pk,
            "customer": acme.pk,
            "title": "ERP Hosting – Silver",
            "services": [services["erp"].pk],
            "effective_from": "2026-02-01",
            "effective_to": "2027-01-31",
        },
    )
    agreement = Agreement.objects.get(title="ERP Hosting – Silver")
    assert response.status_code == 302
    assert response["Location"] == f"/agreements/{agreement.pk}/edit/"
    assert agreement.tier == tiers["silver"]
    assert agreement.targets.count() == tiers["silver"].targets.count()


def test_new_agreement_form_explains_bad_dates(client, alice_manager, tiers, services, acme):
    client.force_login(alice_manager)
    response = client.post(
        "/agreements/new/",
        {
            "tier": tiers["gold"].pk,
            "customer": acme.pk,
            "title": "x",
            "services": [services["erp"].pk],
            "effective_from": "2026-02-01",
            "effective_to": "2026-01-01",
        },
    )
    assert response.status_code == 200
    assert "must end after it starts" in response.content.decode()
    assert not Agreement.objects.filter(title="x").exists()


def test_every_section_opens_in_the_editor(
    client, alice_manager, acme_agreement, django_assert_max_num_queries
):
    client.force_login(alice_manager)
    for key in SECTION_KEYS:
        with django_assert_max_num_queries(60):
            response = client.get(edit_url(acme_agreement, key))
        assert response.status_code == 200, key
    body = client.get(edit_url(acme_agreement, "support")).content.decode()
    assert "Response time" in body and "Resolution time" in body


def test_saving_a_section_keeps_the_draft(client, alice_manager, acme_agreement):
    client.force_login(alice_manager)
    data = page_data(client.get(edit_url(acme_agreement, "description")))
    data["section-service_description"] = "Hosting of the **customer portal**."
    data["section-business_priority"] = "critical"
    response = client.post(edit_url(acme_agreement, "description"), data | {"save_next": "1"})
    assert response.status_code == 302
    assert response["Location"] == edit_url(acme_agreement, "hours")
    acme_agreement.refresh_from_db()
    assert acme_agreement.service_description == "Hosting of the **customer portal**."
    assert acme_agreement.status == Agreement.Status.DRAFT


def test_smart_error_shows_inline_and_nothing_is_saved(client, alice_manager, acme_agreement):
    client.force_login(alice_manager)
    url = edit_url(acme_agreement, "support")
    response = client.get(url)
    data = page_data(response)
    p1 = acme_agreement.targets.get(metric="response_time", priority="P1")
    index = next(
        i for i, form in enumerate(response.context["targets"].forms) if form.instance.pk == p1.pk
    )
    data[f"targets-{index}-threshold_value"] = "10"  # better than the 15-minute target
    data["section-after_hours_procedure"] = "Call the on-call line."
    response = client.post(url, data)
    assert response.status_code == 400
    body = response.content.decode()
    assert "Nothing was saved" in body
    assert "cannot be better than the target (15)" in body
    p1.refresh_from_db()
    acme_agreement.refresh_from_db()
    assert p1.threshold_value == D(30)
    assert acme_agreement.after_hours_procedure == ""  # the valid part was not saved either


def test_adding_and_removing_targets(client, alice_manager, acme_agreement):
    client.force_login(alice_manager)
    url = edit_url(acme_agreement, "functionality")
    response = client.get(url)
    data = page_data(response)
    forms = response.context["targets"].forms
    new = len(forms) - 1  # the empty row at the end
    data[f"targets-{new}-metric"] = "error_count"
    data[f"targets-{new}-error_category"] = "Wrong invoices"
    data[f"targets-{new}-target_value"] = "3"
    data[f"targets-{new}-threshold_value"] = "6"
    data[f"targets-{new}-period"] = "month"
    data[f"targets-{new}-warning_percent"] = "75"
    data["targets-0-DELETE"] = "on"
    removed = forms[0].instance
    assert client.post(url, data).status_code == 302
    added = acme_agreement.targets.get(error_category="Wrong invoices")
    assert (added.unit, added.direction, added.data_source) == ("count", "lower", "errors")
    assert not Target.objects.filter(pk=removed.pk).exists()


def test_customers_cannot_edit(client, carol_customer, acme_agreement):
    client.force_login(carol_customer)
    assert client.get(edit_url(acme_agreement, "terms")).status_code == 403
    assert client.get("/agreements/new/").status_code == 403


def test_manager_cannot_edit_an_agreement_that_is_no_longer_a_draft(
    client, alice_manager, acme_agreement
):
    Agreement.objects.filter(pk=acme_agreement.pk).update(status=Agreement.Status.ACTIVE)
    client.force_login(alice_manager)
    response = client.get(edit_url(acme_agreement, "charges"))
    assert response.status_code == 302
    assert response["Location"] == f"/agreements/{acme_agreement.pk}/"


def test_unknown_section_is_not_found(client, alice_manager, acme_agreement):
    client.force_login(alice_manager)
    assert client.get(edit_url(acme_agreement, "nonsense")).status_code == 404


def test_agreement_list_is_scoped(
    client,
    carol_customer,
    other_org_viewer,
    alice_manager,
    acme_agreement,
    globex_agreement,
    django_assert_max_num_queries,
):
    client.force_login(carol_customer)
    body = client.get("/agreements/").content.decode()
    assert acme_agreement.reference not in body  # a draft is the provider's until proposed
    propose_to_customer(acme_agreement, alice_manager)
    propose_to_customer(globex_agreement, alice_manager)
    body = client.get("/agreements/").content.decode()
    assert acme_agreement.reference in body and globex_agreement.reference not in body
    client.force_login(alice_manager)
    with django_assert_max_num_queries(10):
        body = client.get("/agreements/").content.decode()
    assert acme_agreement.reference in body and globex_agreement.reference in body
