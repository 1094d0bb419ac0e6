"""Who is acting right now, for the audit trail: the request's user in the web process, or
an explicit actor in tasks and scripts (``acting_as``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.http import HttpRequest, HttpResponse

_request: ContextVar[HttpRequest | None] = ContextVar("sla_request", default=None)
_actor: ContextVar[Any] = ContextVar("sla_actor", default=None)


def current_actor() -> Any:
    """The acting user, or None for the system (scheduler, migrations, shell)."""
    explicit = _actor.get()
    if explicit is not None:
        return explicit
    request = _request.get()
    # DRF authenticates inside the view and sets request.user on the underlying request,
    # so token-authenticated API calls are attributed too.
    user = getattr(request, "user", None) if request is not None else None
    if user is not None and user.is_authenticated:
        return user
    return None


@contextmanager
def acting_as(user: Any) -> Iterator[None]:
    token = _actor.set(user)
    try:
        yield
    finally:
        _actor.reset(token)


class ActorMiddleware:
    """Makes the request available to the audit trail for the duration of the request."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = _request.set(request)
        try:
            return self.get_response(request)
        finally:
            _request.reset(token)
