"""Dashboards: live compliance for customers, the provider's overview."""

from django.http import HttpRequest, HttpResponse


def dashboard(request: HttpRequest) -> HttpResponse:
    raise NotImplementedError
