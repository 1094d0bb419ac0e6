"""Experience beside compliance, and the watermelon flag (docs/experience.md).

A period is a **watermelon** (green outside, red inside) when every SLA target of the
agreement that has a verdict in it is met, at least one is, and an experience target (CSAT,
NPS) is below its threshold. Periods count when they contain the moment asked about: the
current periods on dashboards, the report's month on the review page. The comments that
explain it are the latest low answers (CSAT 1-2, NPS 0-6) with a comment, of that period:
CSAT answers of tickets resolved in it, NPS answers given in it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, time
from zoneinfo import ZoneInfo

from django.db.models import F, Q, Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from monitoring.experience.arithmetic import DETRACTOR_UP_TO, LOW_CSAT
from monitoring.experience.measure import closes_at
from monitoring.models import PeriodResult, Status, Survey
from sla_portal.core.models import Organisation, User

EXPERIENCE_METRICS = ("csat", "nps")
# An SLA target in one of these states is not met (a period at risk is not "all green").
NOT_MET = frozenset({Status.AT_RISK, Status.MISSED_TARGET, Status.BREACHED})
COMMENTS_SHOWN = 3
# An experience figure in one of these states has comments shown to explain it.
EXPLAINED = frozenset({Status.MISSED_TARGET, Status.BREACHED})

# Who reads: the acting user, or (for a report's PDF, CSV and email, which every reader of
# the report gets alike) the customer organisation the report is for.
Viewer = User | Organisation


def _visible(queryset, viewer: Viewer):
    if isinstance(viewer, Organisation):
        return queryset.for_organisation(viewer)
    return queryset.visible_to(viewer)


@dataclass(frozen=True)
class ExperienceFigure:
    """One experience target in one period, as shown beside the SLA targets."""

    metric: str
    label: str
    status: str
    value: float | None
    responses: int
    min_responses: int
    target: float
    threshold: float
    reason: str
    # When the figure is final: a CSAT period waits for late ratings after its end
    # (``monitoring.experience.measure.closes_at``); until then it is provisional.
    closes_at: datetime | None = None
    provisional: bool = False

    @property
    def below_threshold(self) -> bool:
        return self.status == Status.BREACHED

    @property
    def value_text(self) -> str:
        if self.value is None:
            return "—"
        return f"{self.value:.2f}" if self.metric == "csat" else f"{self.value:+.0f}"

    @property
    def goal_text(self) -> str:
        if self.metric == "csat":
            return f"target {self.target:g}, threshold {self.threshold:g} (1–5)"
        return f"target {self.target:+g}, threshold {self.threshold:+g} (-100 to 100)"

    @property
    def responses_text(self) -> str:
        noun = "response" if self.responses == 1 else "responses"
        if self.responses < self.min_responses:
            return f"{self.responses} {noun}, {self.min_responses} needed for a verdict"
        return f"{self.responses} {noun}"


@dataclass(frozen=True)
class Comment:
    kind: str
    score: int
    comment: str
    answered_at: datetime
    ticket: str


@dataclass
class Experience:
    """Experience and SLA compliance of one agreement in one period."""

    agreement_id: int
    period_start: datetime
    period_end: datetime
    figures: list[ExperienceFigure] = field(default_factory=list)
    sla_met: int = 0
    sla_not_met: int = 0
    sla_no_data: int = 0
    comments: list[Comment] = field(default_factory=list)

    @property
    def sla_all_met(self) -> bool:
        return self.sla_met > 0 and self.sla_not_met == 0

    @property
    def below_threshold(self) -> list[ExperienceFigure]:
        return [f for f in self.figures if f.below_threshold]

    @property
    def watermelon(self) -> bool:
        """Every SLA target met, and the customer's experience below its threshold."""
        return self.sla_all_met and bool(self.below_threshold)


def _figure(row: PeriodResult, now: datetime) -> ExperienceFigure:
    details = row.details or {}
    closes = closes_at(row.metric, row.period_end)
    return ExperienceFigure(
        metric=row.metric,
        label=row.target_label,
        status=row.status,
        value=row.value,
        responses=int(details.get("responses", 0)),
        min_responses=int(details.get("min_responses", 1)),
        target=row.goal_target,
        threshold=row.goal_threshold,
        reason=details.get("reason", ""),
        closes_at=closes,
        provisional=now < closes,
    )


def experience_by_agreement(
    user: Viewer, agreement_ids: Iterable[int], at: datetime | None = None
) -> dict[int, Experience]:
    """For each agreement the user may see that has an experience target evaluated in the
    period containing ``at`` (now by default): its experience figures and SLA counts of that
    period, and for a figure below its target the latest low comments."""
    at = at or timezone.now()
    rows = (
        _visible(PeriodResult.objects, user)
        .filter(agreement_id__in=list(agreement_ids), period_start__lte=at, period_end__gt=at)
        .only(
            "agreement_id",
            "metric",
            "target_label",
            "status",
            "value",
            "details",
            "goal_target",
            "goal_threshold",
            "period_start",
            "period_end",
        )
        .order_by("agreement_id", "metric", "target_key")
    )
    by_agreement: dict[int, list[PeriodResult]] = defaultdict(list)
    for row in rows:
        by_agreement[row.agreement_id].append(row)
    return experience_from_results(user, by_agreement)


def experience_from_results(
    user: Viewer,
    results_by_agreement: Mapping[int, Iterable[PeriodResult]],
    now: datetime | None = None,
) -> dict[int, Experience]:
    """:func:`experience_by_agreement` from period results already read (the dashboards'
    current periods): no query at all unless an experience target missed its target, then
    one for the comments of every such agreement."""
    now = now or timezone.now()
    found: dict[int, Experience] = {}
    missed: list[tuple[int, PeriodResult]] = []
    for agreement_id, rows in results_by_agreement.items():
        results = list(rows)
        experience_rows = [r for r in results if r.metric in EXPERIENCE_METRICS]
        if not experience_rows:
            continue
        # The experience period shown: the first figure's (each figure's comments come from
        # its own period below).
        first = experience_rows[0]
        view = Experience(agreement_id, first.period_start, first.period_end)
        view.figures = [_figure(r, now) for r in experience_rows]
        for row in results:
            if row.metric in EXPERIENCE_METRICS:
                continue
            if row.status == Status.MET:
                view.sla_met += 1
            elif row.status in NOT_MET:
                view.sla_not_met += 1
            else:
                view.sla_no_data += 1
        # Comments explain a figure below its target; a figure without a verdict (too few
        # responses), at risk or met has nothing to explain.
        missed.extend((agreement_id, r) for r in experience_rows if r.status in EXPLAINED)
        found[agreement_id] = view
    for agreement_id, comments in low_comments_of(user, missed).items():
        found[agreement_id].comments = comments
    return found


def experience_of(user: Viewer, agreement_id: int, at: datetime | None = None) -> Experience | None:
    """One agreement's :func:`experience_by_agreement`, or None without experience targets."""
    return experience_by_agreement(user, [agreement_id], at).get(agreement_id)


def experience_in_month(user: Viewer, report) -> Experience | None:
    """The experience of a monthly report's agreement in the report's month (its middle,
    so the calendar zone of the targets never moves it to a neighbouring month)."""
    zone = ZoneInfo(report.zone)
    middle = datetime.combine(report.month.replace(day=15), time(12), tzinfo=zone)
    return experience_of(user, report.agreement_id, middle)


def report_experience(report) -> Experience | None:
    """:func:`experience_in_month` as the report's page, PDF, CSV and email show it: read
    now (it is not part of the report's frozen content, see docs/reports.md), scoped to the
    customer organisation the report is for. The report itself was reached through a scoped
    read, and every row of its agreement belongs to that customer, so its provider readers
    and its customer readers get the same section, and one emailed file serves them all."""
    return experience_in_month(report.customer, report)


def _comment_window(agreement_id: int, row: PeriodResult) -> Q:
    """The low answers with a comment that count in one figure's period."""
    if row.metric == "csat":
        # Only answers whose score is in the figure (``monitoring.experience.measure``): not
        # of a reopened ticket, nor one whose rating the desk's feed has since replaced.
        return (
            Q(
                agreement_id=agreement_id,
                kind=Survey.Kind.CSAT,
                score__lte=LOW_CSAT,
                ticket__resolved_at__gte=row.period_start,
                ticket__resolved_at__lt=row.period_end,
            )
            & (Q(ticket__csat__isnull=True) | Q(ticket__csat=F("score")))
            & ~Q(ticket__state="open")
        )
    return Q(
        agreement_id=agreement_id,
        kind=Survey.Kind.NPS,
        score__lte=DETRACTOR_UP_TO,
        answered_at__gte=row.period_start,
        answered_at__lt=row.period_end,
    )


def low_comments_of(
    user: Viewer, figures: Iterable[tuple[int, PeriodResult]], limit: int = COMMENTS_SHOWN
) -> dict[int, list[Comment]]:
    """For each (agreement id, experience period result): the latest low answers with a
    comment in that figure's own period, newest first, at most ``limit`` per agreement; one
    query for them all (none without figures)."""
    windows = Q()
    for agreement_id, row in figures:
        windows |= _comment_window(agreement_id, row)
    if not windows:
        return {}
    surveys = (
        _visible(Survey.objects, user)
        .filter(answered_at__isnull=False)
        .exclude(comment="")
        .filter(windows)
        .annotate(
            newest=Window(
                RowNumber(),
                partition_by=[F("agreement_id")],
                order_by=[F("answered_at").desc(), F("pk").desc()],
            )
        )
        .filter(newest__lte=limit)
        .select_related("ticket")
        .order_by("agreement_id", "-answered_at", "-pk")
    )
    found: dict[int, list[Comment]] = defaultdict(list)
    for s in surveys:
        found[s.agreement_id].append(
            Comment(
                kind=s.kind,
                score=s.score,
                comment=s.comment,
                answered_at=s.answered_at,
                ticket=s.ticket.external_id if s.ticket_id else "",
            )
        )
    return found
