"""All REST endpoints under /api/, one router."""

from rest_framework.routers import DefaultRouter

from agreements.api import (
    AgreementViewSet,
    CalendarViewSet,
    ServiceViewSet,
    TargetViewSet,
    TierViewSet,
)
from sla_portal.core.api import OrganisationViewSet, UserViewSet

router = DefaultRouter()
router.register("organisations", OrganisationViewSet, basename="organisation")
router.register("users", UserViewSet, basename="user")
router.register("services", ServiceViewSet, basename="service")
router.register("calendars", CalendarViewSet, basename="calendar")
router.register("tiers", TierViewSet, basename="tier")
router.register("agreements", AgreementViewSet, basename="agreement")
router.register("targets", TargetViewSet, basename="target")
