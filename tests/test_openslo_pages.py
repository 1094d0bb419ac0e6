"""The OpenSLO pages: import with preview and confirmation on a draft, export for everyone who
sees the agreement."""

from __future__ import annotations

from datetime import date

import pytest
import yaml
from django.core.files.uploadedfile import SimpleUploadedFile

from agreements.services.drafting import agreement_create_from_tier
from tests.support.agreements import propose_to_customer
from tests.support.data import SHARED_DATA

pytestmark = pytest.mark.django_db

DATA = SHARED_DATA
SLOTH = (DATA / "sloth/examples/kubernetes-apiserver.yml").read_text()
INVALID = DATA / "openslo/go-sdk/pkg/openslosdk/test_data/inline/inputs/v1_slo_invalid_sli.yaml"


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


def page(agreement) -> str:
    return f"/agreements/{agreement.pk}/openslo/"


def test_preview_shows_targets_and_rules_and_writes_nothing(client, blank_draft, alice_manager):
    client.force_login(alice_manager)
    upload = SimpleUploadedFile("k8s.yml", SLOTH.encode())
    response = client.post(page(blank_draft), {"file": upload, "preview": "1"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "requests-availability" in html and "requests-latency" in html
    assert "Changed by a rule" in html and "Sloth objectives are percentages" in html
    assert "Import 2 targets" in html
    assert not blank_draft.targets.exists()


def test_confirm_imports_and_returns_to_the_agreement(client, blank_draft, alice_manager):
    client.force_login(alice_manager)
    response = client.post(page(blank_draft), {"yaml": SLOTH, "confirm": "1"})
    assert response.status_code == 302 and response["Location"] == f"/agreements/{blank_draft.pk}/"
    assert sorted(blank_draft.targets.values_list("name", flat=True)) == [
        "requests-availability",
        "requests-latency",
    ]


def test_an_invalid_file_shows_errors_per_document_and_no_confirm(
    client, blank_draft, alice_manager
):
    client.force_login(alice_manager)
    response = client.post(page(blank_draft), {"yaml": INVALID.read_text(), "preview": "1"})
    html = response.content.decode()
    assert "Nothing can be imported" in html
    assert "Document #1 · SLO “my-slo”" in html
    assert "spec.indicatorRef" in html and "no SLI named &#x27;no-sli&#x27; in this file" in html
    assert 'name="confirm"' not in html
    # A forged confirmation of the same text is refused just the same.
    response = client.post(page(blank_draft), {"yaml": INVALID.read_text(), "confirm": "1"})
    assert "Nothing can be imported" in response.content.decode()
    assert not blank_draft.targets.exists()


def test_nothing_sent_is_a_form_error(client, blank_draft, alice_manager):
    client.force_login(alice_manager)
    response = client.post(page(blank_draft), {"preview": "1"})
    assert response.status_code == 200
    assert "Choose a file or paste the YAML." in response.content.decode()


def test_customer_cannot_open_the_import_page(
    client, acme_agreement, alice_manager, carol_customer
):
    propose_to_customer(acme_agreement, alice_manager)
    client.force_login(carol_customer)
    assert client.get(page(acme_agreement)).status_code == 403


def test_signed_agreement_sends_the_manager_back_with_the_reason(
    client, active_acme_agreement, alice_manager
):
    client.force_login(alice_manager)
    response = client.post(
        page(active_acme_agreement), {"yaml": SLOTH, "confirm": "1"}, follow=True
    )
    assert "can only be changed while it is drafted or negotiated" in response.content.decode()
    assert not active_acme_agreement.targets.filter(name="requests-latency").exists()


def test_export_button_downloads_yaml(client, acme_agreement, alice_manager):
    client.force_login(alice_manager)
    document = client.get(f"/agreements/{acme_agreement.pk}/").content.decode()
    assert f"/agreements/{acme_agreement.pk}/openslo/export/" in document
    assert f'/agreements/{acme_agreement.pk}/openslo/"' in document  # the import link
    response = client.get(f"/agreements/{acme_agreement.pk}/openslo/export/")
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment")
    assert all(d["kind"] == "SLO" for d in yaml.safe_load(response.content))


def test_other_organisation_cannot_export(client, active_acme_agreement, other_org_viewer):
    client.force_login(other_org_viewer)
    assert client.get(f"/agreements/{active_acme_agreement.pk}/openslo/export/").status_code == 404


def test_other_organisation_gets_404_from_the_import_page(
    client, active_acme_agreement, other_org_viewer
):
    client.force_login(other_org_viewer)
    assert client.get(page(active_acme_agreement)).status_code == 404
    response = client.post(page(active_acme_agreement), {"yaml": SLOTH, "preview": "1"})
    assert response.status_code == 404


def test_the_import_is_in_the_history_in_words(client, blank_draft, alice_manager):
    client.force_login(alice_manager)
    client.post(page(blank_draft), {"yaml": SLOTH, "confirm": "1"})
    history = client.get(f"/agreements/{blank_draft.pk}/history/").content.decode()
    assert "Imported from OpenSLO" in history
    assert "2 target(s) added, 0 changed, 0 unchanged" in history
    assert "document #1 slos[0].objective: Sloth objectives are percentages" in history


def test_an_upload_that_is_not_utf8_is_refused_as_the_api_refuses_it(
    client, blank_draft, alice_manager
):
    client.force_login(alice_manager)
    latin1 = SLOTH.replace('service: "k8s-apiserver"', 'service: "café"').encode("latin-1")
    assert b"caf\xe9" in latin1
    for action in ("preview", "confirm"):
        upload = SimpleUploadedFile("latin1.yml", latin1)
        response = client.post(page(blank_draft), {"file": upload, action: "1"})
        assert response.status_code == 200
        html = response.content.decode()
        assert "Nothing can be imported" in html and "The file is not UTF-8 text (byte" in html
        assert 'name="confirm"' not in html
    assert not blank_draft.targets.exists()


def test_a_utf8_upload_keeps_its_accents_through_preview_and_confirm(
    client, blank_draft, alice_manager
):
    client.force_login(alice_manager)
    text = SLOTH.replace('service: "k8s-apiserver"', 'service: "café"')
    upload = SimpleUploadedFile("utf8.yml", text.encode())
    response = client.post(page(blank_draft), {"file": upload, "preview": "1"})
    html = response.content.decode()
    assert "The service &#x27;café&#x27; is none of this agreement" in html
    assert 'name="confirm"' in html and "café" in html.split('name="confirm"')[0]
    response = client.post(page(blank_draft), {"yaml": text, "confirm": "1"})
    assert response.status_code == 302
    assert blank_draft.targets.count() == 2
