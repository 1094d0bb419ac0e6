from drf_spectacular.utils import extend_schema
from rest_framework import viewsets
from rest_framework.decorators import api_view
from rest_framework.request import Request
from rest_framework.response import Response

from sla_portal.core.models import Organisation
from sla_portal.core.selectors import organisations_visible_to, users_visible_to
from sla_portal.core.serializers.people import OrganisationSerializer, UserSerializer


class ScopedViewSetMixin:
    """Every API viewset gets its rows through a selector taking the acting user."""

    def get_queryset(self):
        return self.selector(self.request.user)


class OrganisationViewSet(ScopedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    """Organisations: every one for provider users, their own for customer users."""

    serializer_class = OrganisationSerializer
    lookup_field = "slug"
    filterset_fields = ["kind"]
    queryset = Organisation.objects.none()  # for the schema; rows come from the selector

    @staticmethod
    def selector(user):
        return organisations_visible_to(user)


class UserViewSet(ScopedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    """Users the caller may see: everyone for the provider, colleagues for a customer."""

    serializer_class = UserSerializer
    filterset_fields = ["role"]

    @staticmethod
    def selector(user):
        return users_visible_to(user)


@extend_schema(responses=UserSerializer)
@api_view(["GET"])
def me(request: Request) -> Response:
    """The authenticated user, with role and organisation."""
    return Response(UserSerializer(request.user).data)
