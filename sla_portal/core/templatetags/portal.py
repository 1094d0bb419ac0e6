from django import template
from django.utils.safestring import mark_safe

from sla_portal.core.markdown import render_markdown

register = template.Library()


@register.filter(name="markdown")
def markdown_filter(text: str) -> str:
    """Render Markdown sanitised; safe to mark safe because nh3 has cleaned it."""
    return mark_safe(render_markdown(text))


@register.filter
def get_item(mapping: dict, key):
    return mapping.get(key) if mapping else None
