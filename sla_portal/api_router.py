"""All REST endpoints under /api/, one router."""

from rest_framework.routers import DefaultRouter

from agreements.api.agreements import AgreementViewSet
from agreements.api.catalogue import CalendarViewSet, ServiceViewSet, TierViewSet
from agreements.api.comments import AgreementCommentViewSet
from agreements.api.history import AgreementHistoryViewSet
from agreements.api.lifecycle import AgreementLifecycleViewSet, AgreementTransitionViewSet
from agreements.api.openslo import AgreementOpenSLOViewSet
from agreements.api.reviews import AgreementReviewViewSet
from agreements.api.targets import TargetViewSet
from agreements.api.versions import AgreementVersionViewSet
from monitoring.api.evaluation import (
    AlertViewSet,
    BreachViewSet,
    PeriodResultViewSet,
    TicketTimerViewSet,
)
from monitoring.api.experience import SurveyViewSet
from monitoring.api.sources import SourceViewSet
from monitoring.api.tickets import TicketViewSet
from reporting.api.recompute import RecomputeRunViewSet
from reporting.api.replay import AgreementReplayViewSet
from reporting.api.reports import ReportViewSet
from reporting.api.status import IncidentViewSet, StatusPageViewSet
from sla_portal.core.api.people import OrganisationViewSet, UserViewSet

# The lifecycle hangs under one agreement: /api/agreements/<id>/versions/ and so on.
AGREEMENT = r"agreements/(?P<agreement_pk>\d+)"

router = DefaultRouter()
router.register("organisations", OrganisationViewSet, basename="organisation")
router.register("users", UserViewSet, basename="user")
router.register("services", ServiceViewSet, basename="service")
router.register("calendars", CalendarViewSet, basename="calendar")
router.register("tiers", TierViewSet, basename="tier")
router.register("agreements", AgreementViewSet, basename="agreement")
router.register(f"{AGREEMENT}/lifecycle", AgreementLifecycleViewSet, basename="agreement-lifecycle")
router.register(
    f"{AGREEMENT}/transitions", AgreementTransitionViewSet, basename="agreement-transition"
)
router.register(f"{AGREEMENT}/versions", AgreementVersionViewSet, basename="agreement-version")
router.register(f"{AGREEMENT}/comments", AgreementCommentViewSet, basename="agreement-comment")
router.register(f"{AGREEMENT}/history", AgreementHistoryViewSet, basename="agreement-history")
router.register(f"{AGREEMENT}/reviews", AgreementReviewViewSet, basename="agreement-review")
router.register(f"{AGREEMENT}/replay", AgreementReplayViewSet, basename="agreement-replay")
router.register(f"{AGREEMENT}/openslo", AgreementOpenSLOViewSet, basename="agreement-openslo")
router.register("targets", TargetViewSet, basename="target")
router.register("sources", SourceViewSet, basename="source")
router.register("tickets", TicketViewSet, basename="ticket")
router.register("timers", TicketTimerViewSet, basename="timer")
router.register("compliance", PeriodResultViewSet, basename="period-result")
router.register("breaches", BreachViewSet, basename="breach")
router.register("alerts", AlertViewSet, basename="alert")
router.register("surveys", SurveyViewSet, basename="survey")
router.register("reports", ReportViewSet, basename="report")
router.register("recompute", RecomputeRunViewSet, basename="recompute")
router.register("incidents", IncidentViewSet, basename="incident")
router.register("status-pages", StatusPageViewSet, basename="status-page")
