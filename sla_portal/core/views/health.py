"""/healthz: each part's health as JSON, with details for provider staff only."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from sla_portal.core.health import cached_health_report


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Each part's health as JSON: 200 when every required part is healthy, else 503.

    Anyone may ask; only provider staff (and the Django admin) see the details.
    """
    details = _sees_health_details(request)
    try:
        report = cached_health_report(details=details)
    except Exception as exc:  # health_report guards each check; this is the last resort
        report = {"ok": False, "failing": ["health"]}
        if details:
            report["error"] = f"{type(exc).__name__}: {exc}"
    return JsonResponse(report, status=200 if report["ok"] else 503)


def _sees_health_details(request: HttpRequest) -> bool:
    """Provider staff or a Django admin signed in; False when that cannot be told.

    Asking loads the session, and with it the database: when that fails (the outage the probe
    is asking about), the caller is treated as anonymous, here and in the middleware after.
    """
    try:
        user = request.user
        return bool(
            user.is_authenticated and (user.is_provider or user.is_staff or user.is_superuser)
        )
    except Exception:
        request.user = AnonymousUser()
        return False
