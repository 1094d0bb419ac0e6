"""``/api/agreements/<id>/openslo/``: import into a draft (YAML body, upload or JSON), per-document
errors, dry runs, the YAML export, and who may do what."""

from __future__ import annotations

from datetime import date

import pytest
import yaml
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from agreements.models import AuditEvent, Target
from agreements.services.drafting import agreement_create_from_tier
from tests.support.agreements import propose_to_customer
from tests.support.data import SHARED_DATA

pytestmark = pytest.mark.django_db

DATA = SHARED_DATA
SLOTH = (DATA / "sloth/examples/getting-started.yml").read_text()
INVALID = (DATA / "openslo/oslo/test/inputs/validate/v1alpha.yaml").read_text()


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def url(agreement) -> str:
    return f"/api/agreements/{agreement.pk}/openslo/"


@pytest.fixture
def blank_draft(acme, services, alice_manager):
    return agreement_create_from_tier(
        tier=None,
        customer=acme,
        title="Portal – from OpenSLO",
        services=[services["portal"]],
        effective_from=date(2026, 1, 1),
        created_by=alice_manager,
    )


def test_manager_imports_a_yaml_body_into_own_draft(blank_draft, alice_manager):
    response = api(alice_manager).post(url(blank_draft), SLOTH, content_type="application/yaml")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["ok"] is True and body["counts"] == {"create": 1, "update": 0, "unchanged": 0}
    (target,) = body["targets"]
    assert (target["metric"], target["name"], target["target_value"]) == (
        "availability",
        "requests-availability",
        "99.9",
    )
    rules = {c["rule"] for c in body["changes"]}
    assert {"sloth-percent", "threshold-equals-target"} <= rules
    assert blank_draft.targets.get().name == "requests-availability"


def test_upload_and_json_bodies_are_accepted(blank_draft, alice_manager):
    client = api(alice_manager)
    upload = SimpleUploadedFile("slos.yaml", SLOTH.encode(), content_type="application/yaml")
    response = client.post(url(blank_draft) + "?dry_run=true", {"file": upload}, format="multipart")
    assert response.status_code == 200, response.content
    assert response.json()["dry_run"] is True
    assert not blank_draft.targets.exists()  # a dry run writes nothing
    response = client.post(url(blank_draft), {"yaml": SLOTH}, format="json")
    assert response.status_code == 201, response.content
    event = AuditEvent.objects.get(agreement=blank_draft, action="openslo_import")
    assert event.actor == alice_manager


def test_invalid_file_answers_400_with_document_path_and_reason(blank_draft, alice_manager):
    response = api(alice_manager).post(url(blank_draft), INVALID, content_type="text/yaml")
    assert response.status_code == 400
    body = response.json()
    assert body["ok"] is False and "nothing was imported" in body["detail"]
    errors = {(e["document"], e["name"], e["path"]) for e in body["errors"]}
    assert errors == {
        (0, "my-rad service", "metadata.name"),
        (2, "ratio", "spec.objectives[0].timeSliceTarget"),
    }
    assert not blank_draft.targets.exists()


@pytest.mark.parametrize(
    ("body", "content_type", "reason"),
    [
        ("", "application/yaml", "empty"),
        ("a: [1", "application/yaml", "Not valid YAML"),
        ("a: &x [1]\nb: *x\n", "application/yaml", "aliases"),
        ("[" * 50_000 + "]" * 50_000, "application/yaml", "nest"),
        ('["not", "a", "mapping"]', "application/json", "empty"),
        ('{"yaml": 5}', "application/json", "empty"),
        ("{not json", "application/json", None),
    ],
)
def test_malformed_input_is_a_clear_400_never_a_500(
    blank_draft, alice_manager, body, content_type, reason
):
    response = api(alice_manager).post(url(blank_draft), body, content_type=content_type)
    assert response.status_code == 400, response.content
    if reason is not None:
        assert reason in response.json()["errors"][0]["reason"]
    assert not blank_draft.targets.exists()


@pytest.mark.parametrize("size", [1_100_000, 5_000_000])
def test_a_huge_body_is_refused_by_size(blank_draft, alice_manager, size):
    body = "a: " + "x" * size
    client = api(alice_manager)
    for sent in (
        client.post(url(blank_draft), body, content_type="application/yaml"),
        client.post(
            url(blank_draft),
            {"file": SimpleUploadedFile("big.yaml", body.encode())},
            format="multipart",
        ),
    ):
        assert sent.status_code == 400, sent.content
        assert "at most 1,000,000 bytes" in sent.json()["errors"][0]["reason"]


def test_signed_agreement_answers_409_and_stays_as_signed(active_acme_agreement, alice_manager):
    before = active_acme_agreement.targets.count()
    response = api(alice_manager).post(
        url(active_acme_agreement), SLOTH, content_type="application/yaml"
    )
    assert response.status_code == 409
    assert "can only be changed while it is drafted" in response.json()["agreement"][0]
    assert active_acme_agreement.targets.count() == before


def test_customer_may_not_import(acme_agreement, alice_manager, carol_customer):
    propose_to_customer(acme_agreement, alice_manager)
    response = api(carol_customer).post(url(acme_agreement), SLOTH, content_type="application/yaml")
    assert response.status_code == 403
    response = api(carol_customer).post(
        url(acme_agreement) + "?dry_run=true", SLOTH, content_type="application/yaml"
    )
    assert response.status_code == 403
    assert not acme_agreement.targets.filter(name="requests-availability").exists()


def test_other_organisation_sees_404_for_import_and_export(active_acme_agreement, other_org_viewer):
    client = api(other_org_viewer)
    assert client.get(url(active_acme_agreement)).status_code == 404
    for query in ("", "?dry_run=true"):
        response = client.post(
            url(active_acme_agreement) + query, SLOTH, content_type="application/yaml"
        )
        # Not 403: that would say the agreement exists.
        assert response.status_code == 404, response.content
        assert response.json() == {"detail": "No Agreement matches the given query."}


def test_customer_posting_to_its_own_draft_not_yet_proposed_gets_404(
    acme_agreement, carol_customer
):
    response = api(carol_customer).post(url(acme_agreement), SLOTH, content_type="application/yaml")
    assert response.status_code == 404


def test_customer_does_not_see_a_draft_not_yet_proposed(acme_agreement, carol_customer):
    assert api(carol_customer).get(url(acme_agreement)).status_code == 404


def test_export_downloads_yaml_that_reimports_to_the_same_targets(
    acme_agreement, blank_draft, alice_manager
):
    response = api(alice_manager).get(url(acme_agreement))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/yaml")
    assert "attachment" in response["Content-Disposition"]
    assert acme_agreement.reference in response["Content-Disposition"]
    documents = yaml.safe_load(response.content)
    exported = acme_agreement.targets.filter(metric__in=["availability", "performance"])
    assert len(documents) == exported.count() > 0
    assert all(d["apiVersion"] == "openslo/v1" and d["kind"] == "SLO" for d in documents)

    imported = api(alice_manager).post(
        url(blank_draft), response.content, content_type="application/yaml"
    )
    assert imported.status_code == 201, imported.content
    assert imported.json()["changes"] == []
    fields = ("metric", "name", "target_value", "threshold_value", "unit", "direction", "period")
    assert sorted(blank_draft.targets.values_list(*fields)) == sorted(exported.values_list(*fields))


def test_customer_exports_the_targets_of_its_signed_agreement(
    active_acme_agreement, carol_customer
):
    response = api(carol_customer).get(url(active_acme_agreement))
    assert response.status_code == 200
    names = [d["metadata"]["name"] for d in yaml.safe_load(response.content)]
    assert names and "availability" in names
    assert Target.objects.filter(agreement=active_acme_agreement).exists()


def test_schema_documents_both_operations(alice_manager):
    response = api(alice_manager).get("/api/schema/", {"format": "json"})
    operations = response.json()["paths"]["/api/agreements/{agreement_pk}/openslo/"]
    assert set(operations) >= {"get", "post"}
    assert "application/yaml" in operations["post"]["requestBody"]["content"]
    assert "application/yaml" in operations["get"]["responses"]["200"]["content"]
    assert {"201", "400", "403", "404", "409"} <= set(operations["post"]["responses"])


def test_provider_team_member_exports_but_may_not_import(blank_draft, tom_team):
    client = api(tom_team)
    assert client.get(url(blank_draft)).status_code == 200
    response = client.post(url(blank_draft), SLOTH, content_type="application/yaml")
    assert response.status_code == 403
    assert not blank_draft.targets.exists()


def test_provider_admin_imports_too(blank_draft, ada_admin):
    response = api(ada_admin).post(url(blank_draft), SLOTH, content_type="application/yaml")
    assert response.status_code == 201


@pytest.mark.parametrize(
    "body",
    [
        "apiVersion: openslo/v1\nkind: SLO\nmetadata:\n  name: x\n  displayName: 2022-02-30\n",
        "a: " + "1" * 5000 + "\n",
        "a: !!float abc\n",
        "a: !!int abc\n",
        "a: !!timestamp abc\n",
    ],
)
def test_a_scalar_yaml_cannot_build_is_a_400_on_dry_run_and_import(
    blank_draft, alice_manager, body
):
    client = api(alice_manager)
    for query in ("?dry_run=true", ""):
        response = client.post(url(blank_draft) + query, body, content_type="application/yaml")
        assert response.status_code == 400, response.content
        assert response.json()["errors"][0]["reason"].startswith("Not valid YAML:")
    assert not blank_draft.targets.exists()
