"""All REST endpoints under /api/, one router."""

from rest_framework.routers import DefaultRouter

from sla_portal.core.api import OrganisationViewSet, UserViewSet

router = DefaultRouter()
router.register("organisations", OrganisationViewSet, basename="organisation")
router.register("users", UserViewSet, basename="user")
