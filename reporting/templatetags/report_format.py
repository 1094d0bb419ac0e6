"""Template filters over ``reporting.formatting``.

``{{ credits.amount|money:credits.currency }}`` writes ``2,400.00 EUR``."""

from django import template

from reporting import formatting

register = template.Library()


@register.filter
def money(value, currency: str = "") -> str:
    return formatting.money(value, currency)


@register.filter
def amount(value) -> str:
    return formatting.amount(value)


@register.filter
def percent(value) -> str:
    return formatting.percent(value)
