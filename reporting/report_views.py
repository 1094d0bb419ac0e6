"""Periodic reports: the page, its PDF and CSV."""

from django.http import HttpRequest, HttpResponse


def report_list(request: HttpRequest) -> HttpResponse:
    raise NotImplementedError


def report_detail(request: HttpRequest, pk: int) -> HttpResponse:
    raise NotImplementedError
