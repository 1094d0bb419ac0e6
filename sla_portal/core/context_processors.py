from django.conf import settings
from django.http import HttpRequest


def portal(request: HttpRequest) -> dict:
    """Values every page needs: demo mode banner and the acting user's organisation."""
    user = getattr(request, "user", None)
    organisation = getattr(user, "organisation", None) if user and user.is_authenticated else None
    return {"DEMO_MODE": settings.DEMO_MODE, "current_organisation": organisation}
