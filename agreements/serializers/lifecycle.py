"""Serializers of the lifecycle API: transitions, the lifecycle state, versions and their
comparison, comments, the audit trail and reviews.

Everything here is read-only except two request bodies: a transition and a comment. Both are
parsed here and handed to ``agreements.services.lifecycle``, which decides whether the step is
allowed.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from agreements import lifecycle as machine
from agreements.models import (
    Acceptance,
    Agreement,
    AgreementVersion,
    AuditEvent,
    Comment,
    Review,
    ReviewAction,
    Signature,
)
from agreements.presentation import section_heading
from agreements.sections import SECTIONS
from agreements.serializers.common import (
    ScopedSlugRelatedField,
    StrictFieldsMixin,
    provider_users_visible_to,
)

# --- Transitions ---------------------------------------------------------------------------

# The actions a person can ask for through the API ("activate" and "expire" belong to the
# scheduler), in the order they happen.
TRANSITIONS = (
    "propose",
    "request_changes",
    "accept",
    "sign",
    "start_review",
    *Review.Decision.values,
)
REVIEW_DECISIONS = frozenset(Review.Decision.values)
# Which body fields each action reads; any other field sent with it is an error rather than
# silently ignored.
FIELDS_OF_ACTION: dict[str, tuple[str, ...]] = {
    "propose": ("note", "confirm_incomplete"),
    "request_changes": ("body", "section"),
    "accept": ("version",),
    "sign": (),
    "start_review": (),
    **{
        decision: ("findings", "root_causes", "lessons", "actions")
        for decision in Review.Decision.values
    },
}
SECTION_CHOICES = [("general", "General"), *((s.key, s.title) for s in SECTIONS)]


class _AbsentWhenOmittedBooleanField(serializers.BooleanField):
    """A boolean that is absent when a form-encoded request leaves it out. DRF reads a missing
    checkbox of an HTML form as False, which would send ``confirm_incomplete`` with every
    other step and have it refused as "not used by accept"."""

    default_empty_html = serializers.empty


class ReviewActionInputSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    """A follow-up action agreed in a review."""

    owner = ScopedSlugRelatedField(
        # Actions are carried out by the provider's people, never another customer's.
        selector=provider_users_visible_to,
        slug_field="username",
        required=False,
        allow_null=True,
        help_text="Username of the person who carries the action out.",
        error_messages={"does_not_exist": "No user with the username {value}."},
    )

    class Meta:
        model = ReviewAction
        fields = ["description", "owner", "due_date"]


class TransitionSerializer(StrictFieldsMixin, serializers.Serializer):
    """One step of the agreement's lifecycle. `action` names the step; the other fields belong
    to particular actions and are refused with any other:

    * `propose`: `note` (what this version changes) and `confirm_incomplete` (true to send
      it with incomplete sections);
    * `request_changes`: `body` (required) and `section` (a section key, default `general`);
    * `accept`: `version` (required: the number of the version you accept, which must be the
      latest);
    * `sign`, `start_review`: nothing;
    * `continue`, `renegotiate`, `terminate` (the review's decision): `findings`,
      `root_causes`, `lessons` and follow-up `actions`.
    """

    action = serializers.ChoiceField(
        choices=TRANSITIONS,
        error_messages={
            "invalid_choice": '"{input}" is not an action; the actions are: '
            + ", ".join(TRANSITIONS)
            + "."
        },
    )
    note = serializers.CharField(required=False, allow_blank=True)
    confirm_incomplete = _AbsentWhenOmittedBooleanField(
        required=False,
        help_text="propose: true sends an agreement whose sections are not all complete; "
        "without it such a proposal answers 400 listing what is missing.",
    )
    version = serializers.IntegerField(required=False, min_value=1)
    body = serializers.CharField(required=False, help_text="The changes you need.")
    section = serializers.ChoiceField(choices=SECTION_CHOICES, required=False)
    findings = serializers.CharField(required=False, allow_blank=True)
    root_causes = serializers.CharField(required=False, allow_blank=True)
    lessons = serializers.CharField(required=False, allow_blank=True)
    actions = ReviewActionInputSerializer(many=True, required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        action = attrs["action"]
        takes = FIELDS_OF_ACTION[action]
        errors: dict[str, list[str]] = {}
        for name in attrs:
            if name != "action" and name not in takes:
                uses = f"it takes {', '.join(takes)}" if takes else "it takes no other field"
                errors[name] = [f"Not used by {action}; {uses}."]
        if action == "accept" and "version" not in attrs:
            errors["version"] = ["Required to accept: the number of the version you accept."]
        if action == "request_changes" and "body" not in attrs:
            errors["body"] = ["Required to request changes: say which changes you need."]
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


class AvailableActionSerializer(serializers.Serializer):
    """A step the acting user may take now."""

    action = serializers.CharField(help_text="Send this as `action` to the transitions.")
    label = serializers.CharField()


@extend_schema_serializer(many=False)
class LifecycleStateSerializer(serializers.Serializer):
    """Where the agreement stands in its lifecycle, and what the acting user may do next."""

    status = serializers.ChoiceField(choices=Agreement.Status.choices)
    status_label = serializers.CharField(
        help_text="The status in words, as the portal shows it: 'Signed, takes effect on "
        "1 Mar 2027' once every signatory signed a version whose effective date is to come."
    )
    signed = serializers.BooleanField(
        help_text="Every signatory signed the agreed (or in-force) version."
    )
    takes_effect_on = serializers.DateField(
        allow_null=True,
        help_text="The effective date, while the signed agreement waits for it; else null.",
    )
    stage = serializers.ChoiceField(
        choices=machine.STAGES,
        help_text="Stage of the five shown on every agreement: negotiate, finalize, monitor, "
        "report, review.",
    )
    latest_version = serializers.IntegerField(
        allow_null=True, help_text="Number of the latest proposed version."
    )
    in_force_version = serializers.IntegerField(
        allow_null=True, help_text="Number of the signed version that is measured."
    )
    available_actions = AvailableActionSerializer(many=True)


# --- Versions ------------------------------------------------------------------------------


class AcceptanceSerializer(serializers.ModelSerializer):
    user = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = Acceptance
        fields = ["side", "user", "accepted_at"]
        read_only_fields = fields


class SignatureSerializer(serializers.ModelSerializer):
    """A signature as it was given: name, role and organisation at the time of signing, and
    the hash of the content the signatory saw."""

    class Meta:
        model = Signature
        fields = ["name", "role", "organisation_name", "side", "signed_at", "content_hash"]
        read_only_fields = fields


class VersionSerializer(serializers.ModelSerializer):
    """A proposed version of the agreement: an immutable snapshot with its SHA-256, who
    accepted it and who signed it. `finalized_at` is set when the last signature made it
    binding."""

    proposed_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    acceptances = AcceptanceSerializer(many=True, read_only=True)
    signatures = SignatureSerializer(many=True, read_only=True)

    class Meta:
        model = AgreementVersion
        fields = [
            "number",
            "proposed_by",
            "proposed_at",
            "note",
            "content_hash",
            "finalized_at",
            "acceptances",
            "signatures",
        ]
        read_only_fields = fields


class VersionDetailSerializer(VersionSerializer):
    """A version with its snapshot: the terms, the ten sections, the targets and the calendars
    exactly as proposed. The `content_hash` is the SHA-256 of the snapshot serialised with
    sorted keys and no spaces."""

    snapshot = serializers.JSONField(read_only=True)

    class Meta(VersionSerializer.Meta):
        fields = [*VersionSerializer.Meta.fields, "snapshot"]
        read_only_fields = fields


class CompareQuerySerializer(serializers.Serializer):
    """The two versions to compare."""

    a = serializers.IntegerField(min_value=1, help_text="Number of the older version.")
    b = serializers.IntegerField(min_value=1, help_text="Number of the newer version.")


class WordChunkSerializer(serializers.Serializer):
    op = serializers.ChoiceField(
        choices=["equal", "insert", "delete"],
        help_text="`equal` and `delete` spell the old text; `equal` and `insert` the new one.",
    )
    text = serializers.CharField()


class ChangeSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["added", "removed", "changed"])
    path = serializers.CharField(help_text="What changed, as a reader names it.")
    old = serializers.CharField(allow_null=True)
    new = serializers.CharField(allow_null=True)
    words = WordChunkSerializer(
        many=True, allow_null=True, help_text="Word-level diff of free-text fields, else null."
    )


class SectionChangesSerializer(serializers.Serializer):
    key = serializers.CharField(help_text="`terms` or a section key.")
    title = serializers.CharField()
    changes = ChangeSerializer(many=True)


class VersionComparisonSerializer(serializers.Serializer):
    """What changed from version `a` to version `b`, grouped by section; sections without a
    change are left out."""

    a = serializers.IntegerField()
    b = serializers.IntegerField()
    sections = SectionChangesSerializer(many=True)


# --- Comments ------------------------------------------------------------------------------


class CommentSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    """A remark on one section (or `general`) of the version under discussion. The author is
    the signed-in user. Comments form threads one level deep: a remark and its replies
    (`parent` is the remark's id). A thread is resolved or reopened as a whole, on its
    remark."""

    section = serializers.ChoiceField(choices=SECTION_CHOICES, required=False, default="general")
    section_title = serializers.SerializerMethodField(
        help_text="The section as the document names it: '3. Availability', or 'General'."
    )
    body = serializers.CharField()
    parent = serializers.IntegerField(
        source="parent_id",
        required=False,
        allow_null=True,
        help_text="Id of the remark this replies to (a reply takes the remark's section).",
    )
    resolved_at = serializers.DateTimeField(read_only=True, allow_null=True)
    resolved_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    version = serializers.SlugRelatedField(
        slug_field="number",
        read_only=True,
        allow_null=True,
        help_text="Number of the version the comment was made on.",
    )
    author = serializers.SlugRelatedField(slug_field="username", read_only=True)
    author_name = serializers.CharField(source="author.display_name", read_only=True)

    class Meta:
        model = Comment
        fields = [
            "id",
            "version",
            "section",
            "section_title",
            "parent",
            "body",
            "author",
            "author_name",
            "requests_change",
            "created_at",
            "resolved_at",
            "resolved_by",
        ]
        read_only_fields = ["id", "requests_change", "created_at"]

    def get_section_title(self, comment: Comment) -> str:
        return section_heading(comment.section)


class CommentReplySerializer(StrictFieldsMixin, serializers.Serializer):
    """A reply in a comment's thread."""

    body = serializers.CharField()


# --- History -------------------------------------------------------------------------------


class AuditEventSerializer(serializers.ModelSerializer):
    """One entry of the append-only audit trail."""

    before = serializers.JSONField(read_only=True, allow_null=True)
    after = serializers.JSONField(read_only=True, allow_null=True)

    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "at",
            "actor_name",
            "action",
            "object_type",
            "object_repr",
            "before",
            "after",
            "message",
        ]
        read_only_fields = fields


# --- Reviews -------------------------------------------------------------------------------


# "status" already names the agreement's enum in the schema; these two get components of
# their own so each keeps its values under the same field name.
@extend_schema_field(
    {"type": "string", "enum": Review.Status.values}, component_name="ReviewStatusEnum"
)
class ReviewStatusField(serializers.ChoiceField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=Review.Status.choices, **kwargs)


@extend_schema_field(
    {"type": "string", "enum": ReviewAction.Status.values},
    component_name="ReviewActionStatusEnum",
)
class ReviewActionStatusField(serializers.ChoiceField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=ReviewAction.Status.choices, **kwargs)


class ReviewActionSerializer(serializers.ModelSerializer):
    owner = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    status = ReviewActionStatusField(read_only=True)

    class Meta:
        model = ReviewAction
        fields = ["id", "description", "owner", "due_date", "status"]
        read_only_fields = fields


class ReviewSerializer(serializers.ModelSerializer):
    """A review of the agreement in force: the period it covers, findings, root causes of
    missed targets, lessons, the decision and the follow-up actions."""

    decided_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    status = ReviewStatusField(read_only=True)
    actions = ReviewActionSerializer(many=True, read_only=True)

    class Meta:
        model = Review
        fields = [
            "id",
            "due_date",
            "period_start",
            "period_end",
            "status",
            "findings",
            "root_causes",
            "lessons",
            "decision",
            "decided_by",
            "decided_at",
            "actions",
        ]
        read_only_fields = fields
