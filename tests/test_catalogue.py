"""The service catalogue: services, tier templates and who may see and change them."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from html.parser import HTMLParser

import pytest
from django.urls import reverse

from agreements.models import Service, Tier, TierCreditBand, TierTarget
from agreements.services.drafting import agreement_create_from_tier
from sla_portal.core.models import Role
from tests.support.actors import make_user
from tests.support.agreements import propose_to_customer

pytestmark = pytest.mark.django_db


# --- Reading a rendered form the way a browser submits it


class _FormReader(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, str] = {}
        self._select: str | None = None
        self._first_option: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = {key: value or "" for key, value in attrs}
        name = attr.get("name")
        if tag == "input" and name:
            kind = attr.get("type", "text")
            if kind in {"checkbox", "radio"}:
                if "checked" in attr:
                    self.values[name] = attr.get("value") or "on"
            elif kind not in {"submit", "button"}:
                self.values[name] = attr.get("value", "")
        elif tag == "select" and name:
            self._select, self._first_option = name, None
        elif tag == "option" and self._select:
            value = attr.get("value", "")
            if self._first_option is None:
                self._first_option = value
                self.values[self._select] = value
            if "selected" in attr:
                self.values[self._select] = value
        elif tag == "textarea" and name:
            self._textarea = name
            self.values[name] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data: str) -> None:
        if self._textarea:
            # The template puts a newline after <textarea>, which browsers drop.
            self.values[self._textarea] += data.removeprefix("\n")


def form_values(html: str) -> dict[str, str]:
    """Every field of the page's form with the value a browser would submit unchanged."""
    reader = _FormReader()
    reader.feed(html)
    reader.values.pop("csrfmiddlewaretoken", None)
    return reader.values


def page_form(client, url: str) -> dict[str, str]:
    response = client.get(url)
    assert response.status_code == 200
    return form_values(response.content.decode())


# --- Fixtures


@pytest.fixture
def shared_portal(services, tiers, globex, alice_manager, acme_agreement):
    """Globex also has an agreement on the Customer Portal (Acme's service)."""
    return agreement_create_from_tier(
        tier=tiers["silver"],
        customer=globex,
        title="Portal for Globex",
        services=[services["portal"], services["records"]],
        effective_from=date(2026, 1, 1),
        created_by=alice_manager,
    )


# --- Every page renders


PAGES = [
    ("agreements:service-list", {}),
    ("agreements:service-create", {}),
    ("agreements:service-detail", {"pk": "portal"}),
    ("agreements:service-edit", {"pk": "portal"}),
    ("agreements:calendar-list", {}),
    ("agreements:calendar-create", {}),
    ("agreements:calendar-detail", {"pk": "office"}),
    ("agreements:calendar-edit", {"pk": "extended"}),
    ("agreements:tier-list", {}),
    ("agreements:tier-create", {}),
    ("agreements:tier-detail", {"slug": "gold"}),
    ("agreements:tier-edit", {"slug": "silver"}),
]


def _url(name: str, kwargs: dict, services: dict, calendars: dict) -> str:
    if "pk" in kwargs:
        rows = services if "service" in name else calendars
        return reverse(name, kwargs={"pk": rows[kwargs["pk"]].pk})
    return reverse(name, kwargs=kwargs)


@pytest.mark.parametrize(("name", "kwargs"), PAGES)
def test_every_catalogue_page_renders_for_a_manager(
    client, alice_manager, acme_agreement, services, calendars, name, kwargs
):
    client.force_login(alice_manager)
    response = client.get(_url(name, kwargs, services, calendars))
    assert response.status_code == 200
    assert b"<h1" in response.content


def test_anonymous_visitors_are_sent_to_log_in(client, services):
    response = client.get(reverse("agreements:service-list"))
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


# --- Services


def test_service_list_shows_name_criticality_owner_probe_and_agreements(
    client, alice_manager, shared_portal, services
):
    Service.objects.filter(pk=services["portal"].pk).update(probe_url="https://portal.example/up")
    client.force_login(alice_manager)
    body = client.get(reverse("agreements:service-list")).content.decode()
    row = _row(body, "Customer Portal")
    assert "Critical" in row
    assert "Alice Manager" in row
    assert "https://portal.example/up" in row
    assert ">2</td>" in row  # Acme's and Globex's agreements


def test_customer_sees_only_the_services_of_its_own_agreements(
    client, carol_customer, alice_manager, acme_agreement, globex_agreement, services
):
    propose_to_customer(acme_agreement, alice_manager)  # a draft grants the customer no sight
    client.force_login(carol_customer)
    body = client.get(reverse("agreements:service-list")).content.decode()
    assert "Customer Portal" in body
    assert "Patient Records Platform" not in body
    assert "ERP Hosting" not in body
    detail = reverse("agreements:service-detail", args=[services["records"].pk])
    assert client.get(detail).status_code == 404
    unused = reverse("agreements:service-detail", args=[services["erp"].pk])
    assert client.get(unused).status_code == 404


def test_customer_counts_and_sees_only_its_own_agreements_on_a_shared_service(
    client, carol_customer, alice_manager, shared_portal, acme_agreement, services
):
    propose_to_customer(acme_agreement, alice_manager)  # a draft is the provider's until then
    client.force_login(carol_customer)
    body = client.get(reverse("agreements:service-list")).content.decode()
    assert ">1</td>" in _row(body, "Customer Portal")
    detail = client.get(reverse("agreements:service-detail", args=[services["portal"].pk]))
    text = detail.content.decode()
    assert acme_agreement.reference in text
    assert shared_portal.reference not in text
    assert "Globex" not in text


def test_service_detail_shows_description_owner_probe_and_agreements(
    client, alice_manager, acme_agreement, services
):
    Service.objects.filter(pk=services["portal"].pk).update(
        probe_url="https://portal.example/health", probe_interval_seconds=30
    )
    client.force_login(alice_manager)
    body = client.get(
        reverse("agreements:service-detail", args=[services["portal"].pk])
    ).content.decode()
    assert "book and track shipments" in body
    assert "Alice Manager" in body
    assert "https://portal.example/health" in body and "every 30 seconds" in body
    assert acme_agreement.reference in body
    assert reverse("agreements:service-edit", args=[services["portal"].pk]) in body


def test_manager_adds_a_service(client, alice_manager):
    client.force_login(alice_manager)
    url = reverse("agreements:service-create")
    data = page_form(client, url) | {
        "name": "Payroll",
        "description": "Monthly payroll runs.",
        "criticality": "high",
        "probe_url": "https://payroll.example/ping",
        "probe_interval_seconds": "120",
    }
    response = client.post(url, data, follow=True)
    service = Service.objects.get(name="Payroll")
    assert response.redirect_chain[-1][0] == reverse("agreements:service-detail", args=[service.pk])
    assert service.owner == alice_manager  # the form proposes the manager as owner
    assert service.probe_interval_seconds == 120
    assert "Service “Payroll” added to the catalogue." in response.content.decode()


def test_manager_edits_a_service_and_bad_values_save_nothing(client, alice_manager, services):
    client.force_login(alice_manager)
    url = reverse("agreements:service-edit", args=[services["email"].pk])
    data = page_form(client, url)
    response = client.post(url, data | {"name": "Mail", "probe_interval_seconds": "5"})
    assert response.status_code == 400
    assert "Probe at most every 10 seconds." in response.content.decode()
    assert Service.objects.get(pk=services["email"].pk).name == "Managed Email"

    response = client.post(url, data | {"name": "Mail", "criticality": "critical"})
    assert response.status_code == 302
    service = Service.objects.get(pk=services["email"].pk)
    assert (service.name, service.criticality) == ("Mail", "critical")


# --- Who may change the catalogue


CHANGE_PAGES = [
    ("agreements:service-create", {}),
    ("agreements:service-edit", {"pk": "portal"}),
    ("agreements:calendar-create", {}),
    ("agreements:calendar-edit", {"pk": "always"}),
    ("agreements:tier-create", {}),
    ("agreements:tier-edit", {"slug": "gold"}),
]


@pytest.mark.parametrize(("name", "kwargs"), CHANGE_PAGES)
def test_customer_may_not_create_or_edit_the_catalogue(
    client, carol_customer, acme_agreement, services, calendars, name, kwargs
):
    client.force_login(carol_customer)
    url = _url(name, kwargs, services, calendars)
    assert client.get(url).status_code == 403
    assert client.post(url, {"calendar-name": "Mine", "name": "Mine"}).status_code == 403


@pytest.mark.parametrize(("name", "kwargs"), CHANGE_PAGES)
def test_provider_team_member_reads_but_does_not_edit(
    client, tom_team, services, calendars, tiers, name, kwargs
):
    client.force_login(tom_team)
    assert client.get(_url(name, kwargs, services, calendars)).status_code == 403


@pytest.mark.parametrize(
    "url", ["/tiers/", "/tiers/gold/", "/tiers/new/", "/tiers/gold/edit/", "/tiers/nope/"]
)
def test_customer_gets_403_on_every_tier_page(client, carol_customer, acme_agreement, url):
    client.force_login(carol_customer)
    assert client.get(url).status_code == 403


def test_edit_links_are_shown_only_to_those_who_may_edit(
    client, alice_manager, tom_team, carol_customer, acme_agreement, services, calendars
):
    service_url = reverse("agreements:service-detail", args=[services["portal"].pk])
    calendar_url = reverse("agreements:calendar-detail", args=[calendars["always"].pk])
    edit_service = reverse("agreements:service-edit", args=[services["portal"].pk])
    edit_calendar = reverse("agreements:calendar-edit", args=[calendars["always"].pk])

    client.force_login(alice_manager)
    assert edit_service in client.get(service_url).content.decode()
    assert edit_calendar in client.get(calendar_url).content.decode()
    assert "/tiers/gold/edit/" in client.get("/tiers/gold/").content.decode()
    assert "/services/new/" in client.get("/services/").content.decode()

    for reader in (tom_team, carol_customer):
        client.force_login(reader)
        assert edit_service not in client.get(service_url).content.decode()
        assert edit_calendar not in client.get(calendar_url).content.decode()
        assert "/services/new/" not in client.get("/services/").content.decode()
        assert "/calendars/new/" not in client.get("/calendars/").content.decode()
    client.force_login(tom_team)
    tier_page = client.get("/tiers/gold/")
    assert tier_page.status_code == 200
    assert "/tiers/gold/edit/" not in tier_page.content.decode()


# --- Tier templates


def test_tier_list_and_detail_show_the_defaults(client, alice_manager, tiers):
    client.force_login(alice_manager)
    body = client.get(reverse("agreements:tier-list")).content.decode()
    assert body.index("Gold") < body.index("Silver") < body.index("Bronze")
    assert "12,000.00 EUR" in body

    body = text(client.get(reverse("agreements:tier-detail", args=["gold"])))
    assert "every 3 months" in body
    assert "12,000.00 EUR per month" in body
    assert "30 % of the period fee" in body
    assert "at most 120 minutes a month" in body
    # Targets with their aim, threshold and compliance goal; credit bands.
    row = _row(body, "Response time (P1)")
    assert "15 min" in row and "30 min" in row
    assert "95 % of tickets; breach below 90 %" in row
    assert "99.9 %" in _row(body, "Availability")
    assert "99.5 %" in _row(body, "Availability")
    assert '>99.5 %</td><td class="text-end">10 % of the period fee' in body


def test_manager_creates_a_tier_with_targets_and_credit_bands(client, alice_manager, calendars):
    client.force_login(alice_manager)
    url = reverse("agreements:tier-create")
    data = page_form(client, url) | {
        "tier-name": "Platinum",
        "tier-slug": "",
        "tier-review_interval_months": "3",
        "tier-fee_amount": "20000",
        "tier-currency": "eur",
        "tier-credit_cap_percent": "40",
        "tier-service_calendar": str(calendars["always"].pk),
        "targets-0-metric": "availability",
        "targets-0-target_value": "99.95",
        "targets-0-threshold_value": "99.9",
        "bands-0-metric": "availability",
        "bands-0-achieved_below": "99.95",
        "bands-0-credit_percent": "10",
    }
    response = client.post(url, data)
    assert response.status_code == 302, form_errors(response)
    tier = Tier.objects.get(slug="platinum")
    assert response["Location"] == reverse("agreements:tier-detail", args=["platinum"])
    assert tier.currency == "EUR"
    target = tier.targets.get()
    # Unit, direction and data source follow from the metric.
    assert (target.unit, target.direction, target.data_source) == ("percent", "higher", "uptime")
    assert tier.credit_bands.get().credit_percent == Decimal("10")


def test_tier_threshold_better_than_target_shows_the_smart_message_and_saves_nothing(
    client, alice_manager, tiers
):
    client.force_login(alice_manager)
    url = reverse("agreements:tier-edit", args=["gold"])
    data = page_form(client, url)
    availability = next(
        key.removesuffix("-metric")
        for key, value in data.items()
        if key.endswith("-metric") and key.startswith("targets-") and value == "availability"
    )
    before = list(
        TierTarget.objects.filter(tier=tiers["gold"]).values_list("pk", "threshold_value")
    )
    data |= {
        "tier-description": "Changed too",
        f"{availability}-target_value": "99.5",
        f"{availability}-threshold_value": "99.9",  # better than the target: higher is better
    }
    response = client.post(url, data)
    assert response.status_code == 400
    body = response.content.decode()
    assert "Realistic: the threshold (99.9) cannot be better than the target (99.5)" in body
    assert "Nothing was saved" in body
    assert "is-invalid" in _tag(body, f"{availability}-threshold_value")
    tiers["gold"].refresh_from_db()
    assert tiers["gold"].description.startswith("Business-critical")
    after = list(TierTarget.objects.filter(tier=tiers["gold"]).values_list("pk", "threshold_value"))
    assert after == before


def test_an_invalid_credit_band_saves_no_part_of_the_tier(client, alice_manager, tiers):
    client.force_login(alice_manager)
    url = reverse("agreements:tier-edit", args=["bronze"])
    data = page_form(client, url) | {
        "tier-fee_amount": "999",
        "bands-2-metric": "availability",
        "bands-2-achieved_below": "97",
        "bands-2-credit_percent": "150",
    }
    response = client.post(url, data)
    assert response.status_code == 400
    assert "A credit is between 0 and 100% of the period fee." in response.content.decode()
    tiers["bronze"].refresh_from_db()
    assert tiers["bronze"].fee_amount == Decimal("2500")
    assert TierCreditBand.objects.filter(tier=tiers["bronze"]).count() == 2


def test_renaming_a_tier_slug_redirects_to_its_new_address(client, alice_manager, tiers):
    client.force_login(alice_manager)
    url = reverse("agreements:tier-edit", args=["bronze"])
    response = client.post(url, page_form(client, url) | {"tier-slug": "bronze-2027"})
    assert response.status_code == 302
    assert response["Location"] == "/tiers/bronze-2027/"


def test_add_row_returns_one_blank_row_and_raises_the_form_count(client, alice_manager, tiers):
    client.force_login(alice_manager)
    response = client.get("/tiers/gold/edit/?row=targets&index=15", HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200
    assert 'name="targets-15-metric"' in body
    assert 'id="id_targets-TOTAL_FORMS" hx-swap-oob="true"' in body and 'value="16"' in body
    assert "index=16" in body
    assert client.get("/tiers/gold/edit/?row=nope&index=1").status_code == 400
    assert client.get("/calendars/new/?row=hours&index=x").status_code == 400


# --- Query counts stay flat


def test_list_pages_use_a_fixed_number_of_queries(
    client, alice_manager, acme, tiers, services, django_assert_max_num_queries
):
    for number in range(12):
        service = Service.objects.create(name=f"Service {number}", owner=alice_manager)
        agreement_create_from_tier(
            tier=tiers["gold"],
            customer=acme,
            title=f"SLA {number}",
            services=[service],
            effective_from=date(2026, 1, 1),
            created_by=alice_manager,
        )
    client.force_login(alice_manager)
    for url in ("/services/", "/calendars/", "/tiers/"):
        with django_assert_max_num_queries(8):
            assert client.get(url).status_code == 200


def test_tier_editor_reads_the_calendar_options_once_not_per_target_row(
    client, alice_manager, tiers, django_assert_max_num_queries
):
    client.force_login(alice_manager)
    assert tiers["gold"].targets.count() >= 14
    with django_assert_max_num_queries(14):
        assert client.get("/tiers/gold/edit/").status_code == 200


# --- Admin


def test_admin_lists_and_edits_every_agreements_model(client, acme_agreement, provider_org):
    admin = make_user("ada", provider_org, Role.PROVIDER_ADMIN)
    client.force_login(admin)
    target = acme_agreement.targets.first()
    for model, pk in [
        ("service", acme_agreement.services.first().pk),
        ("calendar", acme_agreement.support_calendar_id),
        ("tier", acme_agreement.tier_id),
        ("agreement", acme_agreement.pk),
        ("target", target.pk),
    ]:
        assert client.get(f"/admin/agreements/{model}/").status_code == 200
        assert client.get(f"/admin/agreements/{model}/add/").status_code == 200
        assert client.get(f"/admin/agreements/{model}/{pk}/change/").status_code == 200


# --- Helpers


def text(response) -> str:
    """The page as text, with no-break spaces (between a value and its unit) as spaces."""
    return response.content.decode().replace("\xa0", " ")


def _row(html: str, needle: str) -> str:
    """The table row of the page that contains ``needle``."""
    at = html.index(needle)
    return html[html.rindex("<tr", 0, at) : html.index("</tr>", at)]


def _tag(html: str, name: str) -> str:
    """The form control named ``name``."""
    at = html.index(f'name="{name}"')
    return html[html.rindex("<", 0, at) : html.index(">", at) + 1]


def form_errors(response) -> str:
    """The marked fields of a rejected form, for assertion messages."""
    body = response.content.decode()
    return " | ".join(
        part.split("</div>")[0] for part in body.split('class="invalid-feedback">')[1:]
    )
