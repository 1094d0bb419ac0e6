"""Issue 13: no form or API input of the editor ever answers 500.

Hypothesis posts every editor form (each section with its related lists and targets, the
new-agreement form, the catalogue's service, calendar and tier forms, the proposal) and the
agreements API's write endpoints, starting from what the page or a valid request holds and
replacing some values with missing, empty, absurd or wrongly typed ones. Every answer must be a
success or a 4xx that says what is wrong."""

from __future__ import annotations

import json
from html.parser import HTMLParser

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

FUZZ = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,
)

# Values a person, a browser extension or a script might send.
ABSURD_TEXT = [
    "",
    " ",
    "-1",
    "0",
    "1e400",
    "-1e400",
    "NaN",
    "Infinity",
    "99999999999999999999999999",
    "0.0000000000001",
    "1,5",
    "2026-02-30",
    "0000-00-00",
    "9999-12-31",
    "24:61",
    "abc",
    "\x00",
    "x" * 5000,
    "<script>alert(1)</script>",
    "'; DROP TABLE agreements_agreement;--",
    "🙂",
    "true",
    "[]",
    "{}",
]
FORM_VALUE = st.one_of(
    st.none(),  # the field is missing from the post
    st.sampled_from(ABSURD_TEXT),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.text(max_size=30),
)
JSON_VALUE = st.one_of(
    st.none(),
    st.sampled_from(ABSURD_TEXT),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.lists(st.integers(min_value=-5, max_value=10**12), max_size=3),
    st.dictionaries(st.sampled_from(["id", "name", "x"]), st.integers(), max_size=2),
    st.just([{"weekday": "x"}]),
)
MISSING = object()
ERROR_MARKS = ("field-error", "invalid-feedback", "errorlist", "alert-danger", "error-summary")


class FormFields(HTMLParser):
    """The name/value pairs a browser would post from the page's POST form(s)."""

    def __init__(self, form_id: str | None = None) -> None:
        super().__init__()
        self.form_id = form_id
        self.inside = False
        self.fields: list[tuple[str, str]] = []
        self.select: str | None = None
        self.select_first: str | None = None
        self.select_chosen = False
        self.textarea: str | None = None
        self.text = ""
        self.options: set[str] = set()

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.inside = a.get("method", "").lower() == "post" and (
                self.form_id is None or a.get("id") == self.form_id
            )
        if not self.inside:
            return
        name = a.get("name")
        if tag == "input" and name and a.get("type") not in ("submit", "button", "file"):
            if a.get("type") in ("checkbox", "radio") and "checked" not in a:
                return
            self.fields.append(
                (name, a.get("value") or ("on" if a.get("type") == "checkbox" else ""))
            )
        elif tag == "select" and name:
            self.select, self.select_first, self.select_chosen = name, None, False
        elif tag == "option" and self.select:
            value = a.get("value", "")
            self.options.add(value)
            if self.select_first is None:
                self.select_first = value
            if "selected" in a:
                self.fields.append((self.select, value))
                self.select_chosen = True
        elif tag == "textarea" and name:
            self.textarea, self.text = name, ""

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        elif tag == "select" and self.select:
            if not self.select_chosen and self.select_first is not None:
                self.fields.append((self.select, self.select_first))
            self.select = None
        elif tag == "textarea" and self.textarea:
            self.fields.append((self.textarea, self.text))
            self.textarea = None

    def handle_data(self, data):
        if self.textarea:
            self.text += data


def form_data(html: str, form_id: str | None = None) -> tuple[dict[str, list[str]], set[str]]:
    """The fields the form posts, and every option value offered on it."""
    parser = FormFields(form_id)
    parser.feed(html)
    data: dict[str, list[str]] = {}
    for name, value in parser.fields:
        data.setdefault(name, []).append(value)
    return data, parser.options


def mutate(base: dict[str, list[str]], changes: dict[str, object]) -> dict[str, list[str]]:
    data = dict(base)
    for name, value in changes.items():
        if value is None:
            data.pop(name, None)
        else:
            data[name] = [str(value)]
    return data


def assert_answers_with_a_message(response) -> None:
    assert response.status_code < 500
    if response.status_code in (200, 400):
        body = response.content.decode()
        assert any(mark in body for mark in ERROR_MARKS) or response.status_code == 200


def fuzz_form(client, url: str, post_url: str | None = None, form_id: str | None = None):
    page = client.get(url)
    assert page.status_code == 200, url
    base, options = form_data(page.content.decode(), form_id)
    assert base, f"no form fields found on {url}"
    names = sorted(n for n in base if n != "csrfmiddlewaretoken")
    # Rows of formsets ("targets-3-"), so that one example can fill or spoil a whole row,
    # with the page's own choices mixed in (metric "performance" with an empty direction).
    rows = sorted({n.rsplit("-", 1)[0] + "-" for n in names if n.count("-") == 2})
    value = st.one_of(FORM_VALUE, st.sampled_from(sorted(options | {"100", "80", "75"})))
    anywhere = st.dictionaries(st.sampled_from(names), value, min_size=1, max_size=6)
    if rows:

        @st.composite
        def row_changes(draw):
            prefix = draw(st.sampled_from(rows))
            fields = [n for n in names if n.startswith(prefix)]
            return draw(st.dictionaries(st.sampled_from(fields), value, min_size=1))

        changes_strategy = st.one_of(anywhere, row_changes())
    else:
        changes_strategy = anywhere

    @FUZZ
    @given(changes=changes_strategy)
    def post(changes):
        response = client.post(post_url or url, mutate(base, changes))
        assert_answers_with_a_message(response)

    post()


SECTIONS = [
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


@pytest.mark.parametrize("section", SECTIONS)
def test_no_editor_section_post_answers_500(client, alice_manager, acme_agreement, section):
    client.force_login(alice_manager)
    fuzz_form(client, f"/agreements/{acme_agreement.pk}/edit/{section}/", form_id="editor-form")


def test_no_new_agreement_post_answers_500(client, alice_manager, acme_agreement, tiers):
    client.force_login(alice_manager)
    fuzz_form(client, "/agreements/new/")


@pytest.mark.parametrize(
    "url",
    [
        "/services/new/",
        "/calendars/new/",
        "/tiers/new/",
        "services/{service}/edit/",
        "calendars/{calendar}/edit/",
        "tiers/gold/edit/",
    ],
)
def test_no_catalogue_post_answers_500(
    client, alice_manager, acme_agreement, calendars, services, url
):
    client.force_login(alice_manager)
    url = "/" + url.lstrip("/").format(
        service=services["email"].pk, calendar=calendars["london"].pk
    )
    fuzz_form(client, url)


def test_no_propose_post_answers_500(client, alice_manager, acme_agreement):
    client.force_login(alice_manager)
    fuzz_form(
        client,
        f"/agreements/{acme_agreement.pk}/lifecycle/",
        post_url=f"/agreements/{acme_agreement.pk}/lifecycle/propose/",
        form_id="propose",
    )


# --- The API ---------------------------------------------------------------------------------


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def assert_json_reason(response) -> None:
    assert response.status_code < 500, response.content
    if response.status_code == 400:
        body = response.json()
        assert body, "a 400 must say what is wrong"
        assert isinstance(body, dict | list)
        if isinstance(body, dict):
            # Each key names a field (or "detail"/"non_field_errors") with its reasons.
            assert all(body.values())


def fuzz_json(client, method: str, url: str, base: dict, nested: str | None = None):
    names = sorted(base)

    @FUZZ
    @given(changes=st.dictionaries(st.sampled_from([*names, "colour"]), JSON_VALUE, max_size=5))
    def send(changes):
        payload = dict(base)
        for name, value in changes.items():
            payload[name] = value
        for name, value in list(payload.items()):
            if value is MISSING:
                payload.pop(name)
        body = {nested: payload} if nested else payload
        try:
            text = json.dumps(body)
        except ValueError:  # pragma: no cover - every value here is JSON
            return
        response = getattr(client, method)(url, text, content_type="application/json")
        assert_json_reason(response)

    send()


def test_no_agreement_api_write_answers_500(alice_manager, acme_agreement, tiers, services):
    client = api(alice_manager)
    fuzz_json(
        client,
        "post",
        "/api/agreements/",
        {
            "tier": "gold",
            "customer": "acme",
            "title": "Portal",
            "effective_from": "2026-01-01",
            "services": [services["portal"].pk],
        },
    )
    fuzz_json(
        client,
        "patch",
        f"/api/agreements/{acme_agreement.pk}/",
        {"title": "Portal", "effective_to": "2027-12-31", "review_interval_months": 6},
    )


@pytest.mark.parametrize(
    ("section", "base"),
    [
        ("description", {"service_description": "x", "business_priority": "high"}),
        ("hours", {"service_calendars": [], "service_hours_notes": "x"}),
        ("availability", {"maintenance_max_minutes": 60, "maintenance_excluded": True}),
        ("support", {"support_calendar": None, "support_channels": [], "priority_definitions": []}),
        ("charges", {"fee_amount": "10", "currency": "EUR", "credit_bands": []}),
        ("continuity", {"rto_minutes": 60, "rpo_minutes": 5, "dr_plan_reference": "DR"}),
        ("changes", {"change_policy": "x", "change_notice_days": 5}),
    ],
)
def test_no_section_patch_answers_500(alice_manager, acme_agreement, section, base):
    client = api(alice_manager)
    url = f"/api/agreements/{acme_agreement.pk}/"

    @FUZZ
    @given(changes=st.dictionaries(st.sampled_from([*base, "colour"]), JSON_VALUE, max_size=4))
    def send(changes):
        response = client.patch(url, {"sections": {section: base | changes}}, format="json")
        assert_json_reason(response)

    send()


def test_no_target_api_write_answers_500(alice_manager, acme_agreement):
    client = api(alice_manager)
    target = acme_agreement.targets.get(metric="availability")
    base = {
        "agreement": acme_agreement.pk,
        "metric": "performance",
        "name": "Throughput",
        "target_value": "100",
        "threshold_value": "80",
        "unit": "count",
        "direction": "higher",
        "period": "month",
        "calendar": None,
        "warning_percent": "75",
    }
    fuzz_json(client, "post", "/api/targets/", base)
    fuzz_json(client, "patch", f"/api/targets/{target.pk}/", {"threshold_value": "99"})


def test_no_catalogue_api_write_answers_500(alice_manager, calendars, services, tiers):
    client = api(alice_manager)
    fuzz_json(client, "post", "/api/services/", {"name": "DWH", "criticality": "high"})
    fuzz_json(
        client,
        "post",
        "/api/calendars/",
        {
            "name": "Munich",
            "timezone": "Europe/Berlin",
            "holiday_country": "de",
            "hours": [{"weekday": 0, "start": "08:00", "end": "17:00"}],
            "closures": [{"date": "2026-12-24", "reason": "Eve"}],
        },
    )
    fuzz_json(client, "post", "/api/tiers/", {"name": "Platinum", "slug": "platinum"})
    fuzz_json(
        client,
        "patch",
        f"/api/tiers/{tiers['gold'].slug}/",
        {"fee_amount": "1", "review_interval_months": 3},
    )


def test_no_lifecycle_api_step_answers_500(alice_manager, acme_agreement):
    client = api(alice_manager)
    fuzz_json(
        client,
        "post",
        f"/api/agreements/{acme_agreement.pk}/transitions/",
        {"action": "propose", "note": "x", "confirm_incomplete": False},
    )
