"""The agreement's status in words and as a badge, for every template that shows one.

``{{ agreement|status_label }}`` and ``{% status_badge agreement %}`` both come from
``agreements.status.status_of``, so the list, the lifecycle pages, the document and the
PDF never disagree ("Signed, takes effect on 1 Mar 2027", not "awaiting signatures")."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.html import format_html

from agreements.status import status_of

register = template.Library()


@register.filter
def status_label(agreement: Any) -> str:
    return status_of(agreement).label


@register.filter
def signed_not_yet_in_force(agreement: Any) -> bool:
    """Every signatory signed, and the effective date is still to come."""
    return status_of(agreement).key == "signed"


@register.simple_tag
def status_badge(agreement: Any, extra_class: str = "") -> str:
    status = status_of(agreement)
    return format_html(
        '<span class="badge {} {}" data-status="{}"><i class="bi {}" aria-hidden="true"></i> '
        "{}</span>",
        status.css,
        extra_class,
        status.key,
        status.icon,
        status.label,
    )
