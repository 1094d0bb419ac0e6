from datetime import datetime, timedelta

from django import template
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.timesince import timesince

from sla_portal.core.markdown import render_markdown

register = template.Library()


@register.filter(name="markdown")
def markdown_filter(text: str) -> str:
    """Render Markdown sanitised; safe to mark safe because nh3 has cleaned it."""
    return mark_safe(render_markdown(text))


@register.filter
def get_item(mapping: dict, key):
    return mapping.get(key) if mapping else None


@register.filter
def waiting(since: datetime | None) -> str:
    """How long something has waited, in words: "just now", "for 3 days" (never "0 minutes")."""
    if since is None:
        return ""
    if timezone.now() - since < timedelta(minutes=1):
        return "just now"
    return f"for {timesince(since)}"
