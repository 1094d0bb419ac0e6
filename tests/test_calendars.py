"""Calendars (service hours): who sees them, editing them atomically, and the preview."""

from __future__ import annotations

from datetime import date, time

import pytest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from agreements.calendars import holidays_with_names
from agreements.models import Calendar, CalendarHours, ClosureDate
from agreements.views.catalogue import format_interval, weekly_summary
from tests.support.actors import PASSWORD, make_user
from tests.support.agreements import propose_to_customer
from tests.support.browser import login, screenshot
from tests.test_catalogue import _row, form_errors, page_form, text

CREATE = "/calendars/new/"


def _new_calendar(client, **changes: str):
    """Post the new-calendar page as a browser would, with ``changes`` typed in."""
    data = page_form(client, CREATE) | {
        "calendar-name": "Logistics desk",
        "calendar-timezone": "Europe/Berlin",
        "calendar-holiday_country": "de",
        # Monday in two parts, an overnight shift from Wednesday into Thursday, and Friday.
        "hours-0-weekday": "0",
        "hours-0-start": "08:00",
        "hours-0-end": "12:00",
        "hours-1-weekday": "0",
        "hours-1-start": "13:00",
        "hours-1-end": "17:00",
        "hours-2-weekday": "2",
        "hours-2-start": "22:00",
        "hours-2-end": "06:00",
        "hours-3-weekday": "4",
        "hours-3-start": "08:00",
        "hours-3-end": "16:00",
        "closures-0-date": "2026-12-28",
        "closures-0-reason": "Year-end closure",
    }
    return client.post(CREATE, data | changes)


# --- Pure formatting


def test_intervals_read_as_people_write_them():
    assert format_interval(time(8), time(18)) == "08:00\u201318:00"
    assert format_interval(time(9), time(0)) == "09:00\u201324:00"
    assert format_interval(time(22), time(6)) == "22:00\u201306:00 (overnight)"


@pytest.mark.django_db
def test_weekly_summary_runs_equal_days_together(calendars):
    assert weekly_summary(calendars["office"]) == "Mon\u2013Fri 08:00\u201318:00"
    assert weekly_summary(calendars["extended"]) == (
        "Mon\u2013Fri 07:00\u201312:00, 13:00\u201320:00; Sat 09:00\u201313:00"
    )
    assert weekly_summary(calendars["always"]) == "24x7, every day"


# --- Creating a calendar and checking it in the preview


@pytest.mark.django_db
def test_manager_creates_a_calendar_and_the_preview_shows_what_was_meant(client, alice_manager):
    client.force_login(alice_manager)
    response = _new_calendar(client)
    assert response.status_code == 302, form_errors(response)
    calendar = Calendar.objects.get(name="Logistics desk")
    assert response["Location"] == reverse("agreements:calendar-detail", args=[calendar.pk])
    assert calendar.holiday_country == "DE"
    assert sorted(calendar.hours.values_list("weekday", "start", "end")) == [
        (0, time(8), time(12)),
        (0, time(13), time(17)),
        (2, time(22), time(6)),
        (4, time(8), time(16)),
    ]
    assert calendar.closures.get().date == date(2026, 12, 28)

    body = text(client.get(f"{response['Location']}?from=2026-12-21&days=8"))
    preview = body[body.index('id="preview"') :]
    assert "Mon 21 Dec 2026" in preview and "Mon 28 Dec 2026" in preview
    assert "Tue 29 Dec 2026" not in preview  # eight days asked for
    monday = _row(preview, "Mon 21 Dec 2026")
    assert "08:00\u201312:00" in monday and "13:00\u201317:00" in monday and "8 h" in monday
    assert "no service hours" in _row(preview, "Tue 22 Dec 2026")
    wednesday = _row(preview, "Wed 23 Dec 2026")
    assert "22:00\u201324:00" in wednesday and "2 h" in wednesday
    thursday = _row(preview, "Thu 24 Dec 2026")  # the overnight shift's morning
    assert "00:00\u201306:00" in thursday and "6 h" in thursday
    friday = _row(preview, "Fri 25 Dec 2026")  # the public holiday suppresses Friday's hours
    assert "closed: Christmas Day" in friday
    assert "08:00" not in friday
    assert "closed: Second Day of Christmas" in _row(preview, "Sat 26 Dec 2026")
    year_end = _row(preview, "Mon 28 Dec 2026")
    assert "closed: Year-end closure" in year_end and "08:00" not in year_end


@pytest.mark.django_db
def test_calendar_detail_shows_hours_closures_and_named_public_holidays(
    client, alice_manager, calendars
):
    client.force_login(alice_manager)
    office = calendars["office"]
    body = text(client.get(reverse("agreements:calendar-detail", args=[office.pk])))
    assert "Europe/Berlin" in body
    assert "Mon\u2013Fri 08:00\u201318:00" in body
    assert "08:00\u201318:00" in _row(body, "Wednesday")
    assert "closed" in _row(body, "Sunday")
    assert "Christmas Eve closure" in body
    # This year's and next year's public holidays, with their names.
    this_year = timezone.now().year
    expected = {
        day: name
        for day, name in holidays_with_names(office).items()
        if day.year in (this_year, this_year + 1) and not office.closures.filter(date=day)
    }
    assert expected
    for day, name in expected.items():
        assert f"{day:%a} {day.day} {day:%b %Y}</td><td>{escape(name)}" in body
    assert f"{date(this_year + 2, 1, 1):%a} 1 Jan {this_year + 2}" not in body


@pytest.mark.django_db
def test_preview_defaults_to_fourteen_days_and_shows_at_most_sixty(
    client, alice_manager, calendars
):
    client.force_login(alice_manager)
    url = reverse("agreements:calendar-detail", args=[calendars["london"].pk])

    def rows(query: str) -> int:
        body = client.get(url + query).content.decode()
        return body[body.index('id="preview"') :].count('<th scope="row"')

    assert rows("") == 14
    assert rows("?days=3") == 3
    assert rows("?days=365") == 60
    body = client.get(url + "?from=24.12.2026&days=2").content.decode()
    assert "Enter a valid date." in body
    assert rows("?from=24.12.2026&days=2") == 2  # the valid one of the two still counts
    body = client.get(url + "?from=9999-12-31").content.decode()
    assert "Preview a date within 50 years of today." in body


@pytest.mark.django_db
def test_round_the_clock_calendar_previews_whole_days(client, alice_manager, calendars):
    client.force_login(alice_manager)
    url = reverse("agreements:calendar-detail", args=[calendars["always"].pk])
    body = text(client.get(url + "?from=2026-12-25&days=1"))
    row = _row(body, "Fri 25 Dec 2026")
    assert "00:00\u201324:00" in row and "24 h" in row
    assert "Round the clock" in body


# --- Mistakes are explained on the field and nothing is saved


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"calendar-timezone": "Europe/Berln"},
            "&#x27;Europe/Berln&#x27; is not an IANA time zone. Did you mean Europe/Berlin?",
        ),
        (
            {"calendar-timezone": "Mars/Olympus"},
            "&#x27;Mars/Olympus&#x27; is not an IANA time zone.",
        ),
        (
            {"calendar-holiday_country": "XX"},
            "&#x27;XX&#x27; is not a country with known public holidays",
        ),
        (
            {"calendar-holiday_subdivision": "ZZ"},
            "&#x27;ZZ&#x27; is not a subdivision of DE",
        ),
        (
            {"calendar-holiday_country": "", "calendar-holiday_subdivision": "BY"},
            "A subdivision needs its country.",
        ),
        (
            {"hours-1-end": "13:00"},
            "Start and end are both 13:00, which leaves no time",
        ),
        ({"hours-3-end": ""}, "This field is required."),
        ({"closures-0-date": "2026-13-45"}, "Enter a valid date."),
    ],
)
def test_a_mistake_is_marked_on_its_field_and_nothing_is_saved(
    client, alice_manager, changes, message
):
    client.force_login(alice_manager)
    response = _new_calendar(client, **changes)
    assert response.status_code == 400
    body = response.content.decode()
    assert message in body
    assert 'class="invalid-feedback' in body and "is-invalid" in body
    assert "Nothing was saved" in body
    assert not Calendar.objects.exists()
    assert not CalendarHours.objects.exists()
    assert not ClosureDate.objects.exists()


@pytest.mark.django_db
def test_an_invalid_row_keeps_the_whole_calendar_unchanged(client, alice_manager, calendars):
    client.force_login(alice_manager)
    office = calendars["office"]
    url = reverse("agreements:calendar-edit", args=[office.pk])
    data = page_form(client, url)
    response = client.post(
        url, data | {"calendar-name": "Renamed", "hours-0-end": "08:00", "hours-1-DELETE": "on"}
    )
    assert response.status_code == 400
    office.refresh_from_db()
    assert office.name == "Berlin office hours"
    assert office.hours.count() == 5


@pytest.mark.django_db
def test_manager_edits_hours_and_removes_a_closure(client, alice_manager, calendars):
    client.force_login(alice_manager)
    office = calendars["office"]
    url = reverse("agreements:calendar-edit", args=[office.pk])
    data = page_form(client, url)
    friday = next(k for k, v in data.items() if k.endswith("-weekday") and v == "4")
    closure = next(k for k, v in data.items() if k.endswith("-date") and v == "2026-12-24")
    data |= {
        f"{friday.removesuffix('-weekday')}-end": "14:00",
        f"{closure.removesuffix('-date')}-DELETE": "on",
        "hours-5-weekday": "5",
        "hours-5-start": "10:00",
        "hours-5-end": "14:00",
    }
    response = client.post(url, data, follow=True)
    assert response.status_code == 200, form_errors(response)
    assert "Calendar “Berlin office hours” saved." in response.content.decode()
    assert weekly_summary(Calendar.objects.get(pk=office.pk)) == (
        "Mon\u2013Thu 08:00\u201318:00; Fri 08:00\u201314:00; Sat 10:00\u201314:00"
    )
    assert list(office.closures.values_list("date", flat=True)) == [date(2026, 12, 31)]


# --- Who sees which calendar


@pytest.mark.django_db
def test_customer_sees_only_the_calendars_of_its_own_agreements(
    client, carol_customer, alice_manager, acme_agreement, globex_agreement, calendars
):
    propose_to_customer(acme_agreement, alice_manager)  # a draft is the provider's until then
    client.force_login(carol_customer)
    body = client.get("/calendars/").content.decode()
    assert "24x7" in body  # Gold's service and support hours
    assert "Extended hours" not in body  # Globex's Silver
    assert "Berlin office hours" not in body
    own = reverse("agreements:calendar-detail", args=[calendars["always"].pk])
    page = client.get(own).content.decode()
    assert acme_agreement.reference in page
    assert globex_agreement.reference not in page
    for other in ("extended", "office", "london"):
        url = reverse("agreements:calendar-detail", args=[calendars[other].pk])
        assert client.get(url).status_code == 404


@pytest.mark.django_db
def test_other_customer_does_not_see_acmes_calendars(
    client, other_org_viewer, acme_agreement, calendars
):
    client.force_login(other_org_viewer)
    assert ">24x7</a>" not in client.get("/calendars/").content.decode()
    url = reverse("agreements:calendar-detail", args=[calendars["always"].pk])
    assert client.get(url).status_code == 404


@pytest.mark.django_db
def test_calendar_list_shows_zone_hours_holidays_and_24x7_in_few_queries(
    client, alice_manager, calendars, django_assert_max_num_queries
):
    for number in range(15):
        calendar = Calendar.objects.create(name=f"Site {number}", timezone="America/New_York")
        CalendarHours.objects.create(calendar=calendar, weekday=0, start=time(9), end=time(17))
    client.force_login(alice_manager)
    with django_assert_max_num_queries(6):
        body = client.get("/calendars/").content.decode()
    row = _row(body, "Berlin office hours")
    assert "Europe/Berlin" in row and "Mon\u2013Fri 08:00\u201318:00" in row and "DE-BE" in row
    assert "Yes" in _row(body, ">24x7</a>")
    assert "America/New_York" in _row(body, "Site 14")


# --- In the browser


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_calendar_and_tier_pages_in_the_browser(new_page, provider_org):
    from agreements.demo import seed_calendars, seed_tiers
    from sla_portal.core.models import Role

    calendars = seed_calendars()
    seed_tiers(calendars)
    make_user("alice_manager", provider_org, Role.SERVICE_MANAGER, name="Alice Manager")
    page = new_page()
    login(page, "alice_manager", PASSWORD)

    page.goto(f"/calendars/{calendars['office'].pk}/?from=2026-12-21&days=14")
    assert page.get_by_role("heading", name="Berlin office hours").is_visible()
    christmas = page.locator("#preview").get_by_role("row", name="Fri 25 Dec 2026")
    assert "closed: Christmas Day" in christmas.inner_text()
    screenshot(page, "calendar-detail")

    # Adding a row with htmx: the new row arrives and the form count follows.
    page.goto(f"/calendars/{calendars['office'].pk}/edit/")
    page.get_by_role("button", name="Add an interval").click()
    page.wait_for_selector('select[name="hours-7-weekday"]')
    assert page.locator("#id_hours-TOTAL_FORMS").input_value() == "8"
    page.select_option('select[name="hours-7-weekday"]', "5")
    page.fill('input[name="hours-7-start"]', "10:00")
    page.fill('input[name="hours-7-end"]', "14:00")
    screenshot(page, "calendar-edit")
    page.get_by_role("button", name="Save calendar").click()
    page.wait_for_url(f"**/calendars/{calendars['office'].pk}/")
    assert page.get_by_text("Sat 10:00\u201314:00").first.is_visible()
    screenshot(page, "calendar-saved")

    page.goto("/calendars/")
    screenshot(page, "calendar-list")
    page.goto("/tiers/gold/")
    screenshot(page, "tier-detail")
    page.goto("/tiers/gold/edit/")
    screenshot(page, "tier-edit")
    page.fill('input[name="targets-0-threshold_value"]', "99.95")
    page.get_by_role("button", name="Save tier").click()
    page.wait_for_selector(".invalid-feedback")
    assert page.get_by_text("Realistic: the threshold (99.95) cannot be better").is_visible()
    screenshot(page, "tier-edit-error")

    phone = new_page(viewport={"width": 390, "height": 844})
    login(phone, "alice_manager", PASSWORD)
    phone.goto(f"/calendars/{calendars['office'].pk}/?from=2026-12-21")
    screenshot(phone, "calendar-detail-phone")
    phone.goto("/calendars/new/")
    screenshot(phone, "calendar-create-phone")
    phone.goto("/tiers/gold/edit/")
    screenshot(phone, "tier-edit-phone")
