"""Organisations, users and their roles.

One provider organisation runs the portal; any number of customer organisations have
agreements with it. A user belongs to exactly one organisation and has one role.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser, UserManager
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from sla_portal.core.scoping import ScopedManager, ScopedQuerySet


class Organisation(models.Model):
    class Kind(models.TextChoices):
        PROVIDER = "provider", "Service provider"
        CUSTOMER = "customer", "Customer"

    name = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.CUSTOMER)
    slug = models.SlugField(max_length=80, unique=True)
    contact_email = models.EmailField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    scope_paths = ("pk",)
    objects = ScopedManager()

    class Meta:
        ordering = ["name"]
        constraints = [
            # The portal is run by one provider; everyone else is a customer.
            models.UniqueConstraint(
                fields=["kind"], condition=Q(kind="provider"), name="org_single_provider"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_provider(self) -> bool:
        return self.kind == self.Kind.PROVIDER


class Role(models.TextChoices):
    PROVIDER_ADMIN = "provider_admin", "Provider admin"
    SERVICE_MANAGER = "service_manager", "Service manager"
    PROVIDER_TEAM = "provider_team", "Provider team member"
    CUSTOMER_VIEWER = "customer_viewer", "Customer viewer"
    CUSTOMER_APPROVER = "customer_approver", "Customer approver"


PROVIDER_ROLES = frozenset({Role.PROVIDER_ADMIN, Role.SERVICE_MANAGER, Role.PROVIDER_TEAM})
CUSTOMER_ROLES = frozenset({Role.CUSTOMER_VIEWER, Role.CUSTOMER_APPROVER})


class ScopedUserManager(UserManager.from_queryset(ScopedQuerySet)):
    pass


class User(AbstractUser):
    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="users", null=True, blank=True
    )
    role = models.CharField(max_length=32, choices=Role.choices, default=Role.CUSTOMER_VIEWER)
    job_title = models.CharField(max_length=120, blank=True)
    # Immediate emails, or warnings gathered into one daily digest (breaches are always sent).
    alert_digest = models.BooleanField(
        default=False, help_text="Gather warning alerts into a daily digest email."
    )

    scope_paths = ("organisation",)
    objects = ScopedUserManager()

    class Meta:
        ordering = ["username"]
        constraints = [
            models.CheckConstraint(
                condition=Q(role__in=[r.value for r in Role]), name="user_role_valid"
            ),
        ]

    def clean(self) -> None:
        super().clean()
        if self.organisation_id is None:
            if not self.is_superuser:
                raise ValidationError({"organisation": "Every user belongs to an organisation."})
            return
        org = self.organisation
        if org.is_provider and self.role not in PROVIDER_ROLES:
            raise ValidationError(
                {"role": f"Users of the provider need a provider role, not '{self.role}'."}
            )
        if not org.is_provider and self.role not in CUSTOMER_ROLES:
            raise ValidationError(
                {"role": f"Users of a customer need a customer role, not '{self.role}'."}
            )

    def save(self, *args, **kwargs) -> None:
        # Provider admins run the Django admin; nobody else gets into it.
        if self.role == Role.PROVIDER_ADMIN:
            self.is_staff = True
            self.is_superuser = True
        elif not self.is_superuser:
            self.is_staff = False
        super().save(*args, **kwargs)

    @property
    def is_provider(self) -> bool:
        """Provider staff see every organisation's data; customers only their own."""
        if self.is_superuser:
            return True
        return self.organisation is not None and self.organisation.is_provider

    @property
    def is_customer(self) -> bool:
        return not self.is_provider

    @property
    def can_draft_agreements(self) -> bool:
        # The organisation counts too: a role alone never makes someone the provider.
        if self.is_superuser:
            return True
        return self.is_provider and self.role in {Role.PROVIDER_ADMIN, Role.SERVICE_MANAGER}

    @property
    def can_approve_agreements(self) -> bool:
        return not self.is_provider and self.role == Role.CUSTOMER_APPROVER

    @property
    def display_name(self) -> str:
        return self.get_full_name() or self.username


class WorkerHeartbeat(models.Model):
    """The last time a Celery worker ran the heartbeat task, read by /healthz."""

    name = models.CharField(max_length=64, unique=True)
    beat_at = models.DateTimeField()
    hostname = models.CharField(max_length=255, blank=True)

    def __str__(self) -> str:
        return f"{self.name} at {self.beat_at:%Y-%m-%d %H:%M:%S}"


class EmailAttachment(models.Model):
    """A file sent with emails, stored as the bytes that go out.

    Stored once and shared by every recipient's ``Notification`` of the event (a report's PDF
    goes to five contacts, but is kept once). Written when the notification is created and
    never changed afterwards, so every retry attaches exactly what was queued, whatever
    happens to the source (a corrected report) meanwhile.
    """

    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100)
    content = models.BinaryField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.filename} ({self.content_type})"


class NotificationStatus(models.TextChoices):
    """Where a notification is on its way out (module level so ``Meta`` can name it)."""

    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


class Notification(models.Model):
    """One email to one recipient about one event, stored before it is sent.

    The unique (kind, key, recipient) constraint is what makes "exactly once per event and
    recipient" a database fact: announcing the same event again inserts nothing. The email is
    rendered when the row is created, so every retry sends the very same message. Delivery
    state lives here, not in the broker: ``next_attempt_at`` is the row's deadline, claimed by
    a conditional UPDATE (see ``core.notifications``).
    """

    Status = NotificationStatus

    kind = models.CharField(
        max_length=64, help_text='What happened, e.g. "agreement.proposal_sent".'
    )
    key = models.CharField(max_length=200, help_text='Which event, e.g. "version:42".')
    # Lowercased on the way in, so the unique constraint means one email per mailbox.
    recipient = models.EmailField()
    user = models.ForeignKey(
        User,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="notifications",
    )
    subject = models.TextField()
    body_text = models.TextField()
    body_html = models.TextField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    # When the latest attempt ended, sent or failed: /healthz reads the latest outcome of all.
    attempted_at = models.DateTimeField(null=True, blank=True)
    # A plain id rather than a foreign key: core stays below the agreements app, and an
    # agreement's email history still lists with one indexed query.
    agreement_id = models.BigIntegerField(null=True, blank=True)
    # Extra headers of this recipient's email (List-Unsubscribe for subscribers' notices).
    headers = models.JSONField(default=dict, blank=True)
    # Shared rows: the event's files are stored once, however many recipients it has.
    attachments = models.ManyToManyField(EmailAttachment, blank=True, related_name="notifications")

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "key", "recipient"], name="notification_once_per_event_recipient"
            ),
            models.CheckConstraint(
                condition=Q(status__in=NotificationStatus.values),
                name="notification_status_valid",
            ),
            models.CheckConstraint(
                condition=~Q(status="sent") | Q(sent_at__isnull=False),
                name="notification_sent_has_sent_at",
            ),
        ]
        indexes = [
            # The delivery loop's question, "what is due now?", asked again and again: only
            # pending rows are ever due, so the index stays as small as the backlog.
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status="pending"),
                name="notification_due_idx",
            ),
            # Rows a dead worker left in "sending", found without scanning the history.
            models.Index(
                fields=["claimed_at"],
                condition=Q(status="sending"),
                name="notification_sending_idx",
            ),
            # Delivery problems for the status pages: failed or waiting for a retry.
            models.Index(
                fields=["-created_at"],
                condition=Q(status="failed") | Q(status="pending", attempts__gt=0),
                name="notification_problem_idx",
            ),
            models.Index(fields=["agreement_id"], name="notification_agreement_idx"),
            # "How did the latest attempt end?" (/healthz): one row from the top of this.
            models.Index(
                fields=["-attempted_at"],
                condition=Q(attempted_at__isnull=False),
                name="notification_attempted_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.key} to {self.recipient} ({self.status})"


class AccountEvent(models.Model):
    """One change to an organisation or a person's account, by whom and when (append-only).

    The agreements app keeps its own audit trail, but core sits below it, so people
    management records its facts here: invitations, role changes, deactivations.
    """

    class Action(models.TextChoices):
        ORGANISATION_CREATED = "organisation_created", "Organisation created"
        INVITED = "invited", "Invited"
        INVITATION_RESENT = "invitation_resent", "Invitation sent again"
        PASSWORD_SET = "password_set", "Password set from the invitation"
        ROLE_CHANGED = "role_changed", "Role changed"
        DEACTIVATED = "deactivated", "Deactivated"
        REACTIVATED = "reactivated", "Reactivated"
        TOKEN_CREATED = "token_created", "API token created"
        TOKEN_REVOKED = "token_revoked", "API token revoked"
        SECRET_ROTATED = "source_secret_rotated", "Source signing secret rotated"
        SOURCE_SHARING = "source_sharing_changed", "Source sharing changed"

    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="account_events"
    )
    at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor_name = models.CharField(max_length=150, blank=True)
    subject = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="account_events"
    )
    subject_name = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=24, choices=Action.choices)
    before = models.CharField(max_length=64, blank=True)
    after = models.CharField(max_length=64, blank=True)
    message = models.CharField(max_length=300, blank=True)

    scope_paths = ("organisation",)
    objects = ScopedManager()

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["organisation", "-at"], name="accountevent_org_at")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_name or 'system'}: {self.message}"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None:
            raise ValueError("Account events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("Account events are append-only.")


class ApiToken(models.Model):
    """A personal API token: what a script or integration acts as, on behalf of one user.

    Only a SHA-256 of the key is stored (the key is shown once, at creation); ``prefix`` is
    the key's visible start, to tell tokens apart in lists and logs. A token's scopes narrow
    what its user may do through it and never widen it: every request is still checked
    against the user's role. See ``sla_portal.core.tokens``.
    """

    class Scope(models.TextChoices):
        READ = "read", "Read"
        WRITE = "write", "Write"
        INGEST = "ingest", "Ingest monitoring data"

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16)
    key_hash = models.CharField(max_length=64, unique=True)
    # Space-separated Scope values, e.g. "read ingest".
    scopes = models.CharField(max_length=40)
    created_at = models.DateTimeField(default=timezone.now)
    # Stamped at most once a minute per token, so authentication is not a write per request.
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "-created_at"], name="apitoken_user_created")]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…) of {self.user_id}"

    @property
    def scope_list(self) -> list[str]:
        return self.scopes.split()

    @property
    def active(self) -> bool:
        return self.revoked_at is None
