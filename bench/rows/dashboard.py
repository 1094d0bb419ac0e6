"""Customer ``/dashboard/`` under 16 connections, beside a static file from the same gunicorn
and a trivial signed-in view (``GET /api/me/``); plus every query the page runs, explained."""

from __future__ import annotations

from typing import Any

from bench.rows._http import interleave, ratios
from bench.rows.queries import capture


def run(ctx: Any) -> dict[str, Any]:
    cookie = {"Cookie": ctx.customer_cookie}
    cases = {
        "dashboard": (f"{ctx.portal.base}/dashboard/", cookie),
        "static file": (ctx.static_url, {}),
        "GET /api/me/": (f"{ctx.portal.base}/api/me/", cookie),
    }
    result = interleave(ctx, cases)
    return {
        "subject": "dashboard",
        "figures": result,
        "ratio_vs_static": ratios(result["dashboard"], result["static file"]),
        "ratio_vs_trivial_view": ratios(result["dashboard"], result["GET /api/me/"]),
        "queries": capture(ctx, "/dashboard/"),
    }
