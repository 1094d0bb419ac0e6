"""Issue 13, drafting: a performance target without a direction, calendars reaching the
targets, and what the editor page says about errors and completeness."""

from __future__ import annotations

import re

import pytest

from agreements.models import Target
from tests.test_agreement_editor import SECTION_KEYS, edit_url, field_values

pytestmark = pytest.mark.django_db


def page_data(response) -> dict:
    """What the browser posts back from an editor page untouched, the empty rows included."""
    context = response.context
    data = field_values(context["form"])
    formsets = [formset for _n, _t, formset in context["related"]]
    if context["targets"] is not None:
        formsets.append(context["targets"])
    for formset in formsets:
        data.update(field_values(formset.management_form))
        for form in formset.forms:
            data.update(field_values(form))
    return data


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
    for section in SECTION_KEYS:
        body = client.get(edit_url(acme_agreement, section)).content.decode()
        ids = set(re.findall(r'\sid="([^"]+)"', body))
        for described in re.findall(r'aria-describedby="([^"]+)"', body):
            for ref in described.split():
                assert ref in ids, (section, ref)
        for box in re.findall(r'<input type="checkbox" name="[^"]*-DELETE" id="([^"]+)"', body):
            assert f'for="{box}"' in body, (section, box)
    body = client.get(edit_url(acme_agreement, "support")).content.decode()
    assert "Remove target Response time (P1)" in body


# --- Calendars of sections 2 and 4 reach the targets -----------------------------------------


def test_targets_copied_from_a_tier_inherit_their_sections_calendar(acme_agreement, calendars):
    from agreements.calendars import chosen_calendars, target_calendar

    p1 = acme_agreement.targets.get(metric="response_time", priority="P1")
    assert p1.calendar_id is None  # Gold's ticket targets use Gold's desk hours: inherited
    acme_agreement.support_calendar = calendars["office"]
    acme_agreement.save()

    effective = target_calendar(p1, chosen_calendars(acme_agreement))
    assert (effective.name, effective.own, effective.section.key) == (
        "Berlin office hours",
        False,
        "support",
    )
    # Performance (section 5) follows section 4 too; availability (3) keeps section 2's.
    chosen = chosen_calendars(acme_agreement)
    performance = acme_agreement.targets.get(metric="performance")
    availability = acme_agreement.targets.get(metric="availability")
    assert target_calendar(performance, chosen).name == "Berlin office hours"
    assert target_calendar(availability, chosen).name == "24x7"
    assert target_calendar(availability, chosen).section.key == "hours"


def test_a_business_hours_calendar_chosen_in_section_4_moves_a_response_deadline(
    acme_agreement, calendars
):
    from datetime import UTC, datetime

    from agreements.snapshot import build_snapshot
    from agreements.terms import terms_from_snapshot
    from monitoring.compliance.timers import TimerInput, ticket_timer

    def p1_deadline() -> datetime:
        terms = terms_from_snapshot(1, build_snapshot(acme_agreement))
        p1 = next(t for t in terms.targets if t.key.startswith("response_time|P1|"))
        spec = TimerInput(
            start=datetime(2026, 3, 6, 16, 50, tzinfo=UTC),  # Friday 17:50 in Berlin
            stop=None,
            pauses=(),
            target_seconds=p1.seconds(p1.target_value),
            threshold_seconds=p1.seconds(p1.threshold_value),
            warning_percent=float(p1.warning_percent),
        )
        now = datetime(2026, 3, 6, 16, 51, tzinfo=UTC)
        return p1.calendar_name, ticket_timer(p1.calendar, spec, now).due_at

    assert p1_deadline() == ("24x7", datetime(2026, 3, 6, 17, 5, tzinfo=UTC))
    acme_agreement.support_calendar = calendars["office"]
    acme_agreement.save()
    # 10 minutes on Friday until 18:00, 5 more from Monday 08:00 (07:00 UTC).
    assert p1_deadline() == ("Berlin office hours", datetime(2026, 3, 9, 7, 5, tzinfo=UTC))


def test_the_editor_shows_each_targets_calendar_and_warns_when_it_differs(
    client, alice_manager, acme_agreement, calendars
):
    acme_agreement.support_calendar = calendars["office"]
    acme_agreement.save()
    p2 = acme_agreement.targets.get(metric="response_time", priority="P2")
    p2.calendar = calendars["london"]
    p2.save()
    client.force_login(alice_manager)

    body = client.get(edit_url(acme_agreement, "support")).content.decode()
    assert "Measured in <strong>Berlin office hours</strong>" in body
    assert "from section 4, Support levels" in body
    assert "Measured in <strong>London service desk</strong>" in body
    assert "Differs from section 4\u2019s Berlin office hours." in body
    assert body.count("Differs from section 4") == 1

    support = body
    assert "13 targets measured in this section\u2019s calendar" in support
    assert "1 names another calendar" in support
    hours = client.get(edit_url(acme_agreement, "hours")).content.decode()
    assert "1 target measured in this section\u2019s calendar" in hours
    assert "Availability — <strong>24x7</strong> (from section 2, Service hours)" in hours


def test_choosing_a_desk_calendar_in_the_editor_reaches_the_targets(
    client, alice_manager, acme_agreement, calendars
):
    from agreements.snapshot import build_snapshot

    client.force_login(alice_manager)
    url = edit_url(acme_agreement, "support")
    data = page_data(client.get(url))
    data["section-support_calendar"] = str(calendars["office"].pk)
    assert client.post(url, data).status_code == 302
    acme_agreement.refresh_from_db()
    rows = build_snapshot(acme_agreement)["targets"]
    support = {r["calendar"] for r in rows if r["section"] == "support"}
    assert support == {"Berlin office hours"}
    assert "Berlin office hours" in {c["name"] for c in build_snapshot(acme_agreement)["calendars"]}


# --- Markdown lists right under a paragraph line ---------------------------------------------


def test_a_list_typed_under_a_paragraph_line_is_a_list_in_page_and_pdf(
    client, alice_manager, acme_agreement
):
    from django.template.loader import render_to_string

    from agreements.presentation import document_context
    from agreements.selectors import agreement_document

    acme_agreement.after_hours_procedure = "Outside desk hours:\n- call the on-call line\n- page"
    acme_agreement.save()
    client.force_login(alice_manager)
    page = client.get(acme_agreement.get_absolute_url()).content.decode()
    expected = "<ul>\n<li>call the on-call line</li>\n<li>page</li>\n</ul>"
    assert expected in page
    pdf_html = render_to_string(
        "agreements/document_pdf.html",
        document_context(agreement_document(alice_manager, acme_agreement.pk)),
    )
    assert expected in pdf_html


@pytest.mark.parametrize(
    ("text", "html"),
    [
        ("Steps:\n1. call\n2. mail", "<p>Steps:</p>\n<ol>\n<li>call</li>\n<li>mail</li>\n</ol>"),
        ("- a\n  still a\n- b", "<ul>\n<li>a\n  still a</li>\n<li>b</li>\n</ul>"),
        ("Not a list - just a dash", "<p>Not a list - just a dash</p>"),
        ("    code\n- item", "<pre><code>code\n</code></pre>\n<ul>\n<li>item</li>\n</ul>"),
    ],
)
def test_markdown_lists_after_paragraphs(text, html):
    from sla_portal.core.markdown import render_markdown

    assert render_markdown(text) == html
