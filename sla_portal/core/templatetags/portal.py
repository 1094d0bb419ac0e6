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


@register.filter
def pause_length(length: timedelta | None) -> str:
    """A login pause in words: "15 minutes", "1 hour 30 minutes"."""
    if not length:
        return ""
    minutes = max(1, round(length.total_seconds() / 60))
    hours, minutes = divmod(minutes, 60)
    parts = []
    if hours:
        parts.append(f"{hours} hour{'s' if hours != 1 else ''}")
    if minutes:
        parts.append(f"{minutes} minute{'s' if minutes != 1 else ''}")
    return " ".join(parts)
