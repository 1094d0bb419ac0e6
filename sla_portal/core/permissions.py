"""Role checks shared by views and API endpoints."""

from __future__ import annotations

from functools import wraps

from django.core.exceptions import PermissionDenied
from rest_framework.permissions import SAFE_METHODS, BasePermission


def require_drafter(view):
    """Only provider admins and service managers draft agreements and edit the catalogue."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated or not request.user.can_draft_agreements:
            raise PermissionDenied("Only service managers may change this.")
        return view(request, *args, **kwargs)

    return wrapper


def require_provider(view):
    """Provider users only (tiers carry pricing; the catalogue is managed by the provider)."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated or not request.user.is_provider:
            raise PermissionDenied("Only the provider's staff may see this.")
        return view(request, *args, **kwargs)

    return wrapper


class DrafterOrReadOnly(BasePermission):
    """Everyone authenticated reads (rows are scoped); service managers write."""

    message = "Only service managers may change this."

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not user or not user.is_authenticated:
            return False
        return request.method in SAFE_METHODS or user.can_draft_agreements
