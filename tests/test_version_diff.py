"""The side-by-side diff of two agreement versions (pure: no database)."""

from __future__ import annotations

import copy
import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agreements.diff import Change, SectionDiff, diff_snapshots, field_label, has_changes
from agreements.word_diff import WordChunk, word_diff

NARRATIVE = frozenset({"service_description", "after_hours_procedure", "change_policy"})

SECTION_KEYS = (
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
)


def make_snapshot() -> dict:
    """A complete schema-1 snapshot of a small agreement, every leaf a string or null."""
    sections = {key: {"fields": {}, "related": {}} for key in SECTION_KEYS}
    sections["description"] = {
        "fields": {
            "service_description": "The **Customer Portal** for Acme's customers.",
            "business_priority": "high",
        },
        "related": {
            "signatories": [
                {
                    "side": "provider",
                    "name": "Alice Manager",
                    "role": "Service manager",
                    "organisation_name": "Northwind IT Services",
                    "email": "alice@northwind.example",
                },
                {
                    "side": "customer",
                    "name": "Carol Customer",
                    "role": "Head of IT",
                    "organisation_name": "Acme Logistics",
                    "email": "carol@acme.example",
                },
            ]
        },
    }
    sections["hours"]["fields"] = {"service_calendars": ["Berlin office hours"]}
    sections["support"] = {
        "fields": {
            "support_calendar": "Berlin office hours",
            "after_hours_procedure": "We aim to respond in 15 minutes by phone.",
        },
        "related": {
            "support_channels": [
                {"kind": "phone", "contact": "+49 30 1234567", "hours": "24x7"},
                {"kind": "email", "contact": "desk@northwind.example", "hours": "office hours"},
            ],
            "priority_definitions": [
                {"priority": "P1", "name": "Critical", "meaning": "Service unusable."},
            ],
        },
    }
    sections["charges"] = {
        "fields": {"fee_amount": "1200.00", "fee_period": "month", "currency": "EUR"},
        "related": {
            "credit_bands": [
                {"metric": "availability", "achieved_below": "99.5", "credit_percent": "5"},
            ]
        },
    }
    sections["changes"]["fields"] = {"change_policy": "Changes need ten days notice."}
    return {
        "schema": 1,
        "terms": {
            "title": "Customer Portal Gold",
            "reference": "SLA-2026-0001",
            "customer": "Acme Logistics",
            "tier": "Gold",
            "effective_from": "2026-01-01",
            "effective_to": None,
            "review_interval_months": "6",
            "services": ["Customer Portal"],
        },
        "sections": sections,
        "targets": [
            {
                "key": "response_time|P1||",
                "section": "support",
                "label": "Response time (P1)",
                "metric": "response_time",
                "priority": "P1",
                "error_category": "",
                "name": "",
                "target_value": "15",
                "threshold_value": "30",
                "unit": "minutes",
                "direction": "lower",
                "period": "month",
                "calendar": "24x7",
                "compliance_target": "95",
                "compliance_threshold": "90",
                "warning_percent": "75",
                "data_source": "tickets",
                "service": "",
            },
            {
                "key": "availability|||",
                "section": "availability",
                "label": "Availability",
                "metric": "availability",
                "priority": "",
                "error_category": "",
                "name": "",
                "target_value": "99.9",
                "threshold_value": "99.5",
                "unit": "percent",
                "direction": "higher",
                "period": "month",
                "calendar": "Berlin office hours",
                "compliance_target": "100",
                "compliance_threshold": "100",
                "warning_percent": "75",
                "data_source": "monitoring",
                "service": "Customer Portal",
            },
        ],
        "calendars": [
            {
                "name": "Berlin office hours",
                "timezone": "Europe/Berlin",
                "is_24x7": "false",
                "holiday_country": "DE",
                "holiday_subdivision": "BE",
                "hours": [["0", "08:00", "18:00"], ["1", "08:00", "18:00"]],
                "closures": [["2026-12-24", "Christmas Eve closure"]],
            }
        ],
    }


def only_change(diff: list[SectionDiff]) -> tuple[str, Change]:
    """The section key and the change of a diff that must hold exactly one change."""
    changes = [(section.key, change) for section in diff for change in section.changes]
    assert len(changes) == 1, changes
    return changes[0]


@pytest.fixture
def old() -> dict:
    return make_snapshot()


@pytest.fixture
def new(old) -> dict:
    return copy.deepcopy(old)


# --- labels and the empty diff -----------------------------------------------------------------


def test_field_label_reads_like_a_phrase():
    assert field_label("fee_amount") == "fee amount"
    assert field_label("review_interval_months") == "review interval months"
    assert field_label("rto_minutes") == "RTO minutes"


def test_identical_versions_have_no_changes(old, new):
    assert diff_snapshots(old, new, NARRATIVE) == []
    assert has_changes(old, new) is False


def test_unknown_schema_is_refused_rather_than_half_compared(old, new):
    new["schema"] = 2
    with pytest.raises(ValueError, match="schema"):
        diff_snapshots(old, new, NARRATIVE)


# --- terms and section fields ------------------------------------------------------------------


def test_changed_fee_shows_under_charges_with_both_values(old, new):
    new["sections"]["charges"]["fields"]["fee_amount"] = "1350.00"

    section, change = only_change(diff_snapshots(old, new, NARRATIVE))

    assert section == "charges"
    assert change == Change("changed", "fee amount", "1200.00", "1350.00")
    assert has_changes(old, new) is True


def test_end_date_set_on_an_open_ended_agreement_is_an_addition(old, new):
    new["terms"]["effective_to"] = "2027-12-31"

    section, change = only_change(diff_snapshots(old, new, NARRATIVE))

    assert section == "terms"
    assert (change.kind, change.path, change.old, change.new) == (
        "added",
        "effective to",
        None,
        "2027-12-31",
    )


def test_services_are_compared_as_a_set(old, new):
    new["terms"]["services"] = ["ERP", "Customer Portal"]

    section, change = only_change(diff_snapshots(old, new, NARRATIVE))

    assert section == "terms"
    assert change == Change("added", "services", None, "ERP")


def test_removed_service_shows_its_name_on_the_old_side(old, new):
    new["terms"]["services"] = []

    _, change = only_change(diff_snapshots(old, new, NARRATIVE))

    assert change == Change("removed", "services", "Customer Portal", None)


def test_sections_follow_the_agreement_order_with_terms_first(old, new):
    new["sections"]["changes"]["fields"]["change_policy"] = "Changes need five days notice."
    new["sections"]["description"]["fields"]["business_priority"] = "critical"
    new["terms"]["title"] = "Customer Portal Platinum"
    new["targets"][0]["target_value"] = "10"

    keys = [section.key for section in diff_snapshots(old, new, NARRATIVE)]

    assert keys == ["terms", "description", "support", "changes"]


def test_section_order_falls_back_to_the_old_version(old, new):
    del new["sections"]["security"]
    old["sections"]["security"]["fields"]["security_measures"] = "Encrypted at rest."

    (section,) = diff_snapshots(old, new, NARRATIVE)

    assert section.key == "security"
    assert section.changes == [Change("removed", "security measures", "Encrypted at rest.", None)]


# --- word-level diff of narrative fields -------------------------------------------------------


def test_word_diff_marks_only_the_changed_number():
    chunks = word_diff("aim to respond in 15 minutes", "aim to respond in 10 minutes")

    assert chunks == [
        WordChunk("equal", "aim to respond in "),
        WordChunk("delete", "15"),
        WordChunk("insert", "10"),
        WordChunk("equal", " minutes"),
    ]


def test_word_diff_shows_a_replaced_phrase_as_one_edit():
    chunks = word_diff("respond in 15 minutes by phone", "respond in 2 hours by phone")

    assert chunks == [
        WordChunk("equal", "respond in "),
        WordChunk("delete", "15 minutes"),
        WordChunk("insert", "2 hours"),
        WordChunk("equal", " by phone"),
    ]


def test_word_diff_of_appended_sentence_is_a_pure_insertion():
    chunks = word_diff("Call the desk.", "Call the desk. Then email.")

    assert chunks == [WordChunk("equal", "Call the desk."), WordChunk("insert", " Then email.")]


def test_narrative_field_change_carries_words_for_each_side(old, new):
    new["sections"]["support"]["fields"]["after_hours_procedure"] = (
        "We aim to respond in 10 minutes by phone."
    )

    section, change = only_change(diff_snapshots(old, new, NARRATIVE))

    assert section == "support"
    assert change.path == "after hours procedure"
    assert change.old == "We aim to respond in 15 minutes by phone."
    assert change.new == "We aim to respond in 10 minutes by phone."
    assert [(c.op, c.text) for c in change.old_words] == [
        ("equal", "We aim to respond in "),
        ("delete", "15"),
        ("equal", " minutes by phone."),
    ]
    assert [(c.op, c.text) for c in change.new_words] == [
        ("equal", "We aim to respond in "),
        ("insert", "10"),
        ("equal", " minutes by phone."),
    ]


def test_structured_fields_have_no_word_diff(old, new):
    new["sections"]["description"]["fields"]["business_priority"] = "critical"

    _, change = only_change(diff_snapshots(old, new, NARRATIVE))

    assert change.words is None
    assert change.old_words == []


# --- related lists -----------------------------------------------------------------------------


def test_new_customer_signatory_is_added_by_name(old, new):
    new["sections"]["description"]["related"]["signatories"].append(
        {
            "side": "customer",
            "name": "Dan Director",
            "role": "CFO",
            "organisation_name": "Acme Logistics",
            "email": "",
        }
    )

    section, change = only_change(diff_snapshots(old, new, NARRATIVE))

    assert section == "description"
    assert change.kind == "added"
    assert change.path == "Signatories · Dan Director"
    assert change.old is None
    assert "role: CFO" in change.new
    assert "email" not in change.new


def test_signatory_role_edit_is_a_change_to_that_signatory(old, new):
    new["sections"]["description"]["related"]["signatories"][1]["role"] = "CIO"

    _, change = only_change(diff_snapshots(old, new, NARRATIVE))

    assert change == Change("changed", "Signatories · Carol Customer · role", "Head of IT", "CIO")


def test_removed_signatory_keeps_its_details_on_the_old_side(old, new):
    del new["sections"]["description"]["related"]["signatories"][1]

    _, change = only_change(diff_snapshots(old, new, NARRATIVE))

    assert change.kind == "removed"
    assert change.path == "Signatories · Carol Customer"
    assert "Acme Logistics" in change.old
    assert change.new is None


def test_reordered_related_items_are_not_a_change(old, new):
    new["sections"]["description"]["related"]["signatories"].reverse()
    new["sections"]["support"]["related"]["support_channels"].reverse()

    assert diff_snapshots(old, new, NARRATIVE) == []


def test_support_channel_matched_by_kind_and_contact(old, new):
    new["sections"]["support"]["related"]["support_channels"][0]["hours"] = "office hours"

    section, change = only_change(diff_snapshots(old, new, NARRATIVE))

    assert section == "support"
    assert change == Change(
        "changed", "Support channels · phone +49 30 1234567 · hours", "24x7", "office hours"
    )


def test_new_contact_number_reads_as_one_channel_replaced(old, new):
    new["sections"]["support"]["related"]["support_channels"][0]["contact"] = "+49 30 7654321"

    (section,) = diff_snapshots(old, new, NARRATIVE)

    assert [(c.kind, c.path) for c in section.changes] == [
        ("added", "Support channels · phone +49 30 7654321"),
        ("removed", "Support channels · phone +49 30 1234567"),
    ]


def test_priority_definition_matched_by_priority(old, new):
    new["sections"]["support"]["related"]["priority_definitions"][0]["name"] = "Emergency"

    _, change = only_change(diff_snapshots(old, new, NARRATIVE))

    assert change == Change("changed", "Priority definitions · P1 · name", "Critical", "Emergency")


def test_credit_band_matched_by_metric_and_level(old, new):
    new["sections"]["charges"]["related"]["credit_bands"][0]["credit_percent"] = "10"

    section, change = only_change(diff_snapshots(old, new, NARRATIVE))

    assert section == "charges"
    assert change == Change(
        "changed", "Credit bands · availability below 99.5 · credit percent", "5", "10"
    )


# --- targets -----------------------------------------------------------------------------------


def test_target_threshold_change_is_placed_in_its_section(old, new):
    new["targets"][0]["threshold_value"] = "20"

    section, change = only_change(diff_snapshots(old, new, NARRATIVE))

    assert section == "support"
    assert change == Change("changed", "Response time (P1) · threshold value", "30", "20")


def test_target_changes_follow_the_section_fields(old, new):
    new["targets"][0]["threshold_value"] = "20"
    new["sections"]["support"]["fields"]["support_calendar"] = "24x7"

    (section,) = diff_snapshots(old, new, NARRATIVE)

    assert [change.path for change in section.changes] == [
        "support calendar",
        "Response time (P1) · threshold value",
    ]


def test_added_target_is_summarised_in_one_line(old, new):
    p2 = copy.deepcopy(new["targets"][0])
    p2.update(key="response_time|P2||", label="Response time (P2)", priority="P2")
    p2.update(target_value="60", threshold_value="120")
    new["targets"].append(p2)

    section, change = only_change(diff_snapshots(old, new, NARRATIVE))

    assert section == "support"
    assert change.kind == "added"
    assert change.path == "Response time (P2)"
    assert change.new == (
        "60 minutes, threshold 120 minutes; 95% (threshold 90%) per month; calendar 24x7; "
        "from tickets"
    )


def test_removed_target_shows_what_was_promised(old, new):
    del new["targets"][1]

    section, change = only_change(diff_snapshots(old, new, NARRATIVE))

    assert section == "availability"
    assert change.kind == "removed"
    assert change.path == "Availability"
    assert change.old.startswith("99.9 percent, threshold 99.5 percent;")
    assert "service Customer Portal" in change.old


def test_a_relabelled_target_is_not_a_change(old, new):
    new["targets"][0]["label"] = "Response time (critical)"

    assert diff_snapshots(old, new, NARRATIVE) == []


# --- calendars ---------------------------------------------------------------------------------


def test_moved_opening_hour_reads_as_interval_removed_and_added(old, new):
    new["calendars"][0]["hours"][0] = ["0", "07:00", "18:00"]

    (section,) = diff_snapshots(old, new, NARRATIVE)

    assert section.key == "hours"
    assert section.changes == [
        Change("removed", "Berlin office hours · hours", "Monday 08:00–18:00", None),
        Change("added", "Berlin office hours · hours", None, "Monday 07:00–18:00"),
    ]


def test_reordered_hours_are_not_a_change(old, new):
    new["calendars"][0]["hours"].reverse()

    assert diff_snapshots(old, new, NARRATIVE) == []


def test_new_closure_and_changed_time_zone(old, new):
    new["calendars"][0]["closures"].append(["2026-12-31", ""])
    new["calendars"][0]["timezone"] = "Europe/Paris"

    (section,) = diff_snapshots(old, new, NARRATIVE)

    assert section.changes == [
        Change("changed", "Berlin office hours · time zone", "Europe/Berlin", "Europe/Paris"),
        Change("added", "Berlin office hours · closures", None, "2026-12-31"),
    ]


def test_added_calendar_is_summarised(old, new):
    new["calendars"].append(
        {
            "name": "Round the clock",
            "timezone": "UTC",
            "is_24x7": "true",
            "holiday_country": "",
            "holiday_subdivision": "",
            "hours": [],
            "closures": [],
        }
    )
    new["sections"]["hours"]["fields"]["service_calendars"].append("Round the clock")

    (section,) = diff_snapshots(old, new, NARRATIVE)

    assert section.key == "hours"
    assert section.changes == [
        Change("added", "service calendars", None, "Round the clock"),
        Change("added", "Round the clock", None, "UTC; 24x7"),
    ]


def test_removed_calendar_shows_its_schedule(old, new):
    new["calendars"] = []

    _, change = only_change(diff_snapshots(old, new, NARRATIVE))

    assert change.kind == "removed"
    assert change.old == (
        "Europe/Berlin; Monday 08:00–18:00, Tuesday 08:00–18:00; "
        "public holidays DE-BE; closed 2026-12-24 (Christmas Eve closure)"
    )


# --- properties --------------------------------------------------------------------------------

text_values = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=40)


def leaf_locations(snapshot: dict) -> list[tuple[str, tuple]]:
    """Every scalar a reader can change, as (section, path into the snapshot)."""
    places: list[tuple[str, tuple]] = []
    for name, value in snapshot["terms"].items():
        if not isinstance(value, list):
            places.append(("terms", ("terms", name)))
    for key, section in snapshot["sections"].items():
        for name, value in section["fields"].items():
            if not isinstance(value, list):
                places.append((key, ("sections", key, "fields", name)))
    for index, target in enumerate(snapshot["targets"]):
        for name in target:
            if name not in {"key", "section", "label"}:
                places.append((target["section"], ("targets", index, name)))
    for index, calendar in enumerate(snapshot["calendars"]):
        for name in calendar:
            if name not in {"name", "hours", "closures"}:
                places.append(("hours", ("calendars", index, name)))
    return places


LOCATIONS = leaf_locations(make_snapshot())


def resolve(snapshot: dict, path: tuple) -> tuple[dict | list, str | int]:
    container = snapshot
    for step in path[:-1]:
        container = container[step]
    return container, path[-1]


@given(
    location=st.sampled_from(LOCATIONS),
    value=text_values,
    narrative=st.sampled_from([NARRATIVE, frozenset()]),
)
def test_any_single_field_change_is_exactly_one_change(location, value, narrative):
    section_key, path = location
    old = make_snapshot()
    new = make_snapshot()
    container, name = resolve(new, path)
    before = container[name]
    if value == before:
        value += "x"
    container[name] = value

    section, change = only_change(diff_snapshots(old, new, narrative))

    assert section == section_key
    assert change.old == before
    assert change.new == value
    assert change.kind == ("added" if before is None else "changed")
    if change.words is not None:
        assert "".join(c.text for c in change.old_words) == before
        assert "".join(c.text for c in change.new_words) == value


@given(
    description=text_values,
    fee=text_values,
    services=st.lists(text_values, max_size=4),
)
def test_any_snapshot_diffed_with_itself_is_empty(description, fee, services):
    snapshot = make_snapshot()
    snapshot["sections"]["description"]["fields"]["service_description"] = description
    snapshot["sections"]["charges"]["fields"]["fee_amount"] = fee
    snapshot["terms"]["services"] = services

    assert diff_snapshots(snapshot, copy.deepcopy(snapshot), NARRATIVE) == []
    assert has_changes(snapshot, snapshot) is False


words = st.lists(st.sampled_from(["aim", "to", "respond", "in", "15", "10", "minutes", "."]))
spacing = st.sampled_from([" ", "  ", "\n", "\n\n", "\t"])


@given(
    old=st.lists(st.one_of(words.map(" ".join), spacing), max_size=12).map("".join),
    new=st.lists(st.one_of(words.map(" ".join), spacing), max_size=12).map("".join),
)
def test_word_diff_sides_reassemble_both_texts(old, new):
    chunks = word_diff(old, new)

    assert "".join(c.text for c in chunks if c.op != "insert") == old
    assert "".join(c.text for c in chunks if c.op != "delete") == new
    assert all(c.text for c in chunks)
    # Neighbouring chunks never share an operation: each run is shown as one mark.
    assert all(a.op != b.op for a, b in itertools.pairwise(chunks))
    if old == new:
        assert all(c.op == "equal" for c in chunks)
