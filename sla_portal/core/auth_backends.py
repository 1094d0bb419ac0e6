"""Login throttling (django-axes) as an authentication backend."""

from __future__ import annotations

from typing import Any

from axes.backends import AxesStandaloneBackend
from django.http import HttpRequest


class LoginThrottleBackend(AxesStandaloneBackend):
    """Axes' check, for the logins that come over the network.

    Every login a client can reach (the login page, the admin's, the password forms) passes
    the request to ``authenticate``. A call without one comes from code running on the server
    itself (a management command, the test client's ``login``), where there is no address to
    throttle: axes would raise there, so such a call is left to the next backend.
    """

    def authenticate(self, request: HttpRequest | None, *args: Any, **kwargs: Any) -> None:
        if request is None:
            return None
        return super().authenticate(request, *args, **kwargs)
