"""Issue 13, drafting: a performance target without a direction, calendars reaching the
targets, and what the editor page says about errors and completeness."""

from __future__ import annotations

import re

import pytest

from agreements.models import Target
from tests.test_agreement_editor import edit_url, page_data

pytestmark = pytest.mark.django_db


def new_row(response) -> int:
    return len(response.context["targets"].forms) - 1


def performance_row(data: dict, index: int, **values: str) -> dict:
    row = {
        "metric": "performance",
        "name": "Orders per minute",
        "target_value": "120",
        "threshold_value": "100",
        "unit": "count",
        "direction": "",
        "period": "month",
        "warning_percent": "75",
    } | values
    return data | {f"targets-{index}-{k}": v for k, v in row.items()}


def test_a_performance_target_without_direction_is_a_clear_error_not_a_500(
    client, alice_manager, acme_agreement
):
    client.force_login(alice_manager)
    url = edit_url(acme_agreement, "performance")
    response = client.get(url)
    index = new_row(response)
    data = performance_row(page_data(response), index)

    response = client.post(url, data)

    assert response.status_code == 400
    body = response.content.decode()
    assert "say whether lower or higher is better" in body
    # Once beside the field (tied to it), and the summary links to the field.
    assert body.count("say whether lower or higher is better") == 1
    assert f'aria-describedby="id_targets-{index}-direction_error"' in body
    assert f'href="#id_targets-{index}-direction"' in body
    assert not Target.objects.filter(name="Orders per minute").exists()

    data[f"targets-{index}-direction"] = "higher"
    assert client.post(url, data).status_code == 302
    added = Target.objects.get(name="Orders per minute")
    assert (added.direction, added.data_source) == ("higher", "measurements")


def test_every_error_is_shown_once(client, alice_manager, acme_agreement):
    client.force_login(alice_manager)
    url = edit_url(acme_agreement, "support")
    response = client.get(url)
    data = page_data(response)
    data["targets-0-threshold_value"] = "1"  # better than the target
    body = client.post(url, data).content.decode()
    messages = re.findall(r"cannot be better than the target \(\d+\)", body)
    assert len(messages) == 1
    assert 'role="alert"' in body and '<ul class="mb-0 ps-3 text-danger" role="alert">' not in body


def test_calendar_choices_name_24x7_once_and_say_what_empty_means(
    client, alice_manager, acme_agreement, calendars
):
    client.force_login(alice_manager)
    body = client.get(edit_url(acme_agreement, "support")).content.decode()
    select = re.search(r'<select name="targets-0-calendar".*?</select>', body, re.S).group(0)
    options = re.findall(r"<option[^>]*>([^<]*)</option>", select)
    assert [o for o in options if o.strip() == "24x7"] == ["24x7"]
    assert options[0].startswith("As section 4: ")


def test_remove_checkboxes_have_labels_and_no_dangling_describedby(
    client, alice_manager, acme_agreement
):
    client.force_login(alice_manager)
    for section in ("description", "support", "charges", "performance"):
        body = client.get(edit_url(acme_agreement, section)).content.decode()
        ids = set(re.findall(r'\sid="([^"]+)"', body))
        for described in re.findall(r'aria-describedby="([^"]+)"', body):
            for ref in described.split():
                assert ref in ids, (section, ref)
        for box in re.findall(r'<input type="checkbox" name="[^"]*-DELETE" id="([^"]+)"', body):
            assert f'for="{box}"' in body, (section, box)
    body = client.get(edit_url(acme_agreement, "support")).content.decode()
    assert "Remove target Response time (P1)" in body
