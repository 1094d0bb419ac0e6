"""Pages of the evaluation engine: alerts, breaches and per-period compliance."""

from django.http import HttpRequest, HttpResponse


def alert_list(request: HttpRequest) -> HttpResponse:
    raise NotImplementedError


def alert_acknowledge(request: HttpRequest, pk: int) -> HttpResponse:
    raise NotImplementedError


def breach_detail(request: HttpRequest, pk: int) -> HttpResponse:
    raise NotImplementedError


def compliance(request: HttpRequest, pk: int) -> HttpResponse:
    raise NotImplementedError


def escalation(request: HttpRequest, pk: int) -> HttpResponse:
    raise NotImplementedError
