"""The work inbox: what is waiting for one person, across agreements and monitoring.

Each item says what is waiting, why it waits for this person, since when, and links to the
page where it is acted on. The rules follow who the lifecycle services themselves ask to act
(``agreements.services.lifecycle``) and who the alerts were sent to
(``monitoring.evaluation.alerts``), so the inbox never lists something the person cannot do:

* **Proposals to review** (customer approvers of the agreement's organisation): the latest
  version the provider proposed is not final, the customer has neither accepted it nor asked
  for changes to it.
* **Proposals to answer** (the agreement's managers: the service managers and its drafter): the
  customer asked for changes to the latest version (the provider accepts its own proposals
  by sending them, so a customer's acceptance is an agreement, not a question).
* **Signatures due** (named signatories): the customer accepted the provider's version and
  this person, named in it, has not signed.
* **Reviews due** (managers and approvers): a scheduled review within
  ``REVIEW_REMINDER_DAYS`` of its due date (or past it), or a review in progress.
* **Alerts to acknowledge** (provider staff): an alert that was emailed (or put in the digest)
  to this person and nobody has acknowledged yet.
* **Imports that failed** (provider admins and service managers): a refused or failed import
  of the last ``IMPORT_DAYS`` days with no successful import of the same source since.

It lives in ``reporting`` because it reads both agreements and monitoring (layers point down
only). Every read goes through ``visible_to(user)``: a customer only ever loads rows of its
own organisation. The whole inbox costs a fixed handful of queries, whatever the volume.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.db.models import CharField, Exists, OuterRef, Prefetch, Q, Subquery, Value
from django.db.models.functions import Cast, Concat
from django.urls import reverse
from django.utils import timezone

from agreements import lifecycle as machine
from agreements.models import Acceptance, Agreement, AgreementVersion, Comment, Review
from agreements.services.parties import accepted_by_both, signatory_row
from monitoring.models import RECOVERY_LEVELS, Alert, DigestItem, ImportJob
from sla_portal.core.models import Notification, Role, User

# A refused or failed import stays in the inbox this long unless a later import of the same
# source succeeds; older ones are on the imports page.
IMPORT_DAYS = 14
# Items shown per kind on the inbox page; the count always covers every item.
SHOWN_PER_KIND = 50

NEGOTIATING = (machine.IN_NEGOTIATION, machine.RENEGOTIATING)


@dataclass(frozen=True)
class Kind:
    key: str
    title: str
    icon: str


PROPOSAL = Kind("proposal", "Proposals to review", "file-earmark-text")
ANSWER = Kind("answer", "Proposals to answer", "chat-left-text")
SIGNATURE = Kind("signature", "Signatures due", "pen")
REVIEW = Kind("review", "Reviews due", "calendar-check")
ALERT = Kind("alert", "Alerts to acknowledge", "exclamation-triangle")
IMPORT = Kind("import", "Imports that failed", "file-earmark-x")
KINDS = (PROPOSAL, ANSWER, SIGNATURE, REVIEW, ALERT, IMPORT)


@dataclass(frozen=True)
class InboxItem:
    """One thing waiting for the person: what, why, since when, and where to act on it."""

    kind: Kind
    title: str
    reason: str
    url: str
    action: str
    since: datetime
    # Reviews have a due date; "overdue" items are shown first and marked.
    overdue: bool = False


@dataclass
class InboxGroup:
    kind: Kind
    items: list[InboxItem]
    total: int

    @property
    def more(self) -> int:
        return self.total - len(self.items)

    @property
    def list_url(self) -> str:
        """The page listing every item of the kind, for those the inbox does not load."""
        if self.kind is ALERT:
            return reverse("monitoring:alert-list") + "?acknowledged=no"
        if self.kind is IMPORT:
            return reverse("monitoring:import-list")
        return ""


@dataclass
class Inbox:
    items: list[InboxItem] = field(default_factory=list)
    # Items of a kind counted but not loaded (kinds that can pile up: alerts, imports).
    not_loaded: dict[str, int] = field(default_factory=dict)

    @property
    def count(self) -> int:
        return len(self.items) + sum(self.not_loaded.values())

    @property
    def label(self) -> str:
        """The accessible name of the count, e.g. "3 items waiting for you"."""
        if not self.items:
            return "Nothing is waiting for you"
        return f"{self.count} item{'s' if self.count != 1 else ''} waiting for you"

    def groups(self, limit: int = SHOWN_PER_KIND) -> list[InboxGroup]:
        """The items by kind, in the order of ``KINDS``, overdue then oldest first."""
        by_kind: dict[str, list[InboxItem]] = defaultdict(list)
        for item in self.items:
            by_kind[item.kind.key].append(item)
        groups = []
        for kind in KINDS:
            items = sorted(by_kind.get(kind.key, []), key=lambda i: (not i.overdue, i.since))
            total = len(items) + self.not_loaded.get(kind.key, 0)
            if total:
                groups.append(InboxGroup(kind, items[:limit], total))
        return groups


def inbox_for(user: User, now: datetime | None = None) -> Inbox:
    """Everything waiting for ``user`` now, in a fixed number of queries."""
    if user is None or not user.is_authenticated or not user.is_active:
        return Inbox()
    now = now or timezone.now()
    inbox = Inbox()
    inbox.items += _negotiation_items(user)
    inbox.items += _review_items(user, now)
    if user.is_provider:
        _add_bounded(inbox, ALERT, *_alert_items(user))
    if user.can_draft_agreements:
        _add_bounded(inbox, IMPORT, *_import_items(user, now))
    return inbox


def _add_bounded(inbox: Inbox, kind: Kind, items: list[InboxItem], total: int) -> None:
    inbox.items += items
    if total > len(items):
        inbox.not_loaded[kind.key] = total - len(items)


# --- Who acts for an agreement (the lifecycle services' own rules) --------------------------


def _is_manager(user: User, agreement: Agreement) -> bool:
    """As ``parties.managers_of``: the service managers and the agreement's drafter."""
    return user.is_provider and (
        user.role == Role.SERVICE_MANAGER
        or (user.can_draft_agreements and agreement.created_by_id == user.pk)
    )


def _is_approver(user: User, agreement: Agreement) -> bool:
    """As ``parties.approvers_of``: the approvers of the agreement's customer."""
    return user.role == Role.CUSTOMER_APPROVER and user.organisation_id == agreement.customer_id


def _lifecycle_url(agreement: Agreement) -> str:
    return reverse("agreements:lifecycle", args=[agreement.pk])


def _name(agreement: Agreement) -> str:
    return f"{agreement.reference} {agreement.title}"


# --- Negotiation and signatures -------------------------------------------------------------


def _negotiation_items(user: User) -> list[InboxItem]:
    """Proposals to review or answer and signatures due: one query for the latest open
    version of each visible agreement, three for its acceptances, change requests and
    signatures."""
    latest_number = (
        AgreementVersion.objects.filter(agreement=OuterRef("agreement"))
        .order_by("-number")
        .values("number")[:1]
    )
    versions = (
        AgreementVersion.objects.visible_to(user)
        .filter(
            finalized_at__isnull=True,
            agreement__status__in=[*NEGOTIATING, machine.AGREED],
            number=Subquery(latest_number),
        )
        .select_related("agreement", "agreement__customer", "proposed_by")
        .prefetch_related(
            Prefetch("acceptances", queryset=Acceptance.objects.select_related("user")),
            Prefetch(
                "comments",
                queryset=Comment.objects.filter(requests_change=True)
                .select_related("author")
                .order_by("created_at"),
                to_attr="change_requests",
            ),
            "signatures",
        )
        .order_by("proposed_at")
    )
    items: list[InboxItem] = []
    for version in versions:
        agreement = version.agreement
        sides = {a.side: a for a in version.acceptances.all()}
        # The provider accepts its own proposal by sending it; the customer's acceptance
        # agrees the version (agreements.services.parties.accepted_by_both).
        both = accepted_by_both(version)
        url = _lifecycle_url(agreement)
        if both:
            if signatory_row(version, user) is not None and not any(
                s.user_id == user.pk for s in version.signatures.all()
            ):
                accepted = max(a.accepted_at for a in sides.values())
                items.append(
                    InboxItem(
                        kind=SIGNATURE,
                        title=f"Sign version {version.number} of {_name(agreement)}",
                        reason="Both sides accepted this version and you are a named "
                        "signatory who has not signed yet.",
                        url=url,
                        action="Sign",
                        since=accepted,
                    )
                )
            continue
        if agreement.status not in NEGOTIATING:
            continue
        if _is_approver(user, agreement) and "customer" not in sides:
            if not version.change_requests:
                who = version.proposed_by.display_name if version.proposed_by_id else "The provider"
                items.append(
                    InboxItem(
                        kind=PROPOSAL,
                        title=f"Version {version.number} of {_name(agreement)}",
                        reason=f"{who} proposed it to {agreement.customer.name}; accept it or "
                        "request changes.",
                        url=url,
                        action="Review the proposal",
                        since=version.proposed_at,
                    )
                )
        elif _is_manager(user, agreement) and version.change_requests:
            last = version.change_requests[-1]
            asked = len(version.change_requests)
            items.append(
                InboxItem(
                    kind=ANSWER,
                    title=f"Changes requested to version {version.number} of {_name(agreement)}",
                    reason=f"{last.author.display_name} ({agreement.customer.name}) asked "
                    f"for changes{f' ({asked} requests)' if asked > 1 else ''}: "
                    f"“{_excerpt(last.body)}”",
                    url=url,
                    action="Answer the change request",
                    since=version.change_requests[0].created_at,
                )
            )
    return items


def _excerpt(text: str, length: int = 120) -> str:
    text = " ".join(text.split())
    return text if len(text) <= length else text[: length - 1].rstrip() + "…"


# --- Reviews ----------------------------------------------------------------------------------


def _review_items(user: User, now: datetime) -> list[InboxItem]:
    """Reviews within the reminder window (or overdue) and reviews in progress, for the
    agreement's managers and the customer's approvers; one query."""
    if not (user.can_draft_agreements or user.role == Role.CUSTOMER_APPROVER):
        return []
    today = timezone.localdate(now)
    horizon = today + timedelta(days=settings.REVIEW_REMINDER_DAYS)
    reviews = (
        Review.objects.visible_to(user)
        .filter(
            Q(status=Review.Status.SCHEDULED, due_date__lte=horizon)
            | Q(status=Review.Status.IN_PROGRESS),
            agreement__status__in=sorted(machine.IN_FORCE_STATES),
        )
        .select_related("agreement")
        .order_by("due_date")
    )
    items = []
    for review in reviews:
        agreement = review.agreement
        if not (_is_manager(user, agreement) or _is_approver(user, agreement)):
            continue
        days = (review.due_date - today).days
        if days < 0:
            when = f"overdue since {review.due_date:%d %b %Y} ({-days} day{_s(-days)})"
        elif days == 0:
            when = "due today"
        else:
            when = f"due on {review.due_date:%d %b %Y} (in {days} day{_s(days)})"
        started = review.status == Review.Status.IN_PROGRESS
        reason = (
            f"The review is in progress ({when}): record the findings and decide."
            if started
            else f"The periodic review is {when}."
        )
        entered = review.due_date - timedelta(days=settings.REVIEW_REMINDER_DAYS)
        items.append(
            InboxItem(
                kind=REVIEW,
                title=f"Review of {_name(agreement)}",
                reason=reason,
                url=reverse("agreements:review", args=[agreement.pk, review.pk])
                if started
                else _lifecycle_url(agreement),
                action="Open the review" if started else "Prepare the review",
                since=_start_of(entered),
                overdue=days < 0,
            )
        )
    return items


def _s(n: int) -> str:
    return "" if n == 1 else "s"


def _start_of(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


# --- Alerts -----------------------------------------------------------------------------------


def _alert_items(user: User) -> tuple[list[InboxItem], int]:
    """Unacknowledged alerts sent to this person (by email or in their digest), the oldest
    ``SHOWN_PER_KIND`` of them and how many there are; two queries.

    Only provider staff acknowledge alerts (``monitoring.evaluation.actions``). Alerts recorded
    without email (history imported late) woke nobody and wait for nobody."""
    emailed_to_user = Notification.objects.filter(
        user=user,
        kind__startswith="alert.",
        key=Concat(Value("alert:"), Cast(OuterRef("pk"), output_field=CharField())),
    )
    digested_for_user = DigestItem.objects.filter(user=user, alert=OuterRef("pk"))
    alerts = (
        Alert.objects.visible_to(user)
        .filter(acknowledged_at__isnull=True)
        .exclude(level__in=RECOVERY_LEVELS)
        .filter(Exists(emailed_to_user) | Exists(digested_for_user))
        .select_related("agreement", "ticket", "period_result")
        .order_by("raised_at")
    )
    list_url = reverse("monitoring:alert-list")
    total = alerts.count()
    items = []
    for alert in alerts[:SHOWN_PER_KIND] if total else []:
        items.append(
            InboxItem(
                kind=ALERT,
                title=f"{alert.get_level_display()}: {alert.target_label} ({alert.subject})",
                reason=f"{_name(alert.agreement)}. You were alerted and nobody has "
                "acknowledged it yet.",
                url=f"{list_url}?acknowledged=no&agreement={alert.agreement_id}",
                action="Acknowledge",
                since=alert.raised_at,
            )
        )
    return items, total


# --- Imports ----------------------------------------------------------------------------------


def _import_items(user: User, now: datetime) -> tuple[list[InboxItem], int]:
    """Refused or failed imports of the last ``IMPORT_DAYS`` days that no later successful
    import of the same source made good: the oldest ``SHOWN_PER_KIND`` and how many there
    are; two queries."""
    succeeded_later = ImportJob.objects.filter(
        source=OuterRef("source"),
        status=ImportJob.Status.SUCCEEDED,
        created_at__gt=OuterRef("created_at"),
    )
    jobs = (
        ImportJob.objects.visible_to(user)
        .filter(
            status__in=[ImportJob.Status.REFUSED, ImportJob.Status.FAILED],
            created_at__gte=now - timedelta(days=IMPORT_DAYS),
        )
        .exclude(Exists(succeeded_later))
        .select_related("source")
        .order_by("created_at")
    )
    total = jobs.count()
    items = []
    for job in jobs[:SHOWN_PER_KIND] if total else []:
        if job.status == ImportJob.Status.REFUSED:
            reason = (
                f"The file for {job.source.name} was refused: {len(job.problems)} row "
                f"problem{_s(len(job.problems))}. Nothing was imported."
            )
        else:
            error = _excerpt(job.error or "unknown error")
            reason = f"The import for {job.source.name} failed: {error}"
        items.append(
            InboxItem(
                kind=IMPORT,
                title=f"Import #{job.pk}: {job.kind_label}",
                reason=reason,
                url=reverse("monitoring:import-detail", args=[job.pk]),
                action="See what went wrong",
                since=job.finished_at or job.created_at,
            )
        )
    return items, total


__all__ = ["KINDS", "Inbox", "InboxGroup", "InboxItem", "inbox_for"]
