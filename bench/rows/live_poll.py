"""``/dashboard/live/?v=<version>``, the unchanged poll, beside the same ceilings; the share
of polls answered 204 is recorded (the goal: every unchanged poll is a 204)."""

from __future__ import annotations

import re
from typing import Any

from bench.rows._http import interleave, ratios
from bench.rows.queries import capture
from bench.server import fetch

VERSION = (re.compile(r'data-version="([^"]+)"'), re.compile(r"[?&;]v=([^\"&]+)"))


def current_version(ctx: Any) -> str:
    _status, body = fetch(f"{ctx.portal.base}/dashboard/live/", {"Cookie": ctx.customer_cookie})
    text = body.decode(errors="replace")
    for pattern in VERSION:
        match = pattern.search(text)
        if match:
            return match.group(1)
    return ""


def run(ctx: Any) -> dict[str, Any]:
    cookie = {"Cookie": ctx.customer_cookie}
    version = current_version(ctx)
    poll = f"{ctx.portal.base}/dashboard/live/?v={version}"
    cases = {
        "live poll": (poll, cookie),
        "static file": (ctx.static_url, {}),
        "GET /api/me/": (f"{ctx.portal.base}/api/me/", cookie),
    }
    result = interleave(ctx, cases)
    statuses = result["live poll"]["statuses"]
    total = sum(statuses.values())
    return {
        "subject": "live poll",
        "version": version,
        "share_204": (statuses.get("204", 0) / total) if total else 0.0,
        "figures": result,
        "ratio_vs_static": ratios(result["live poll"], result["static file"]),
        "ratio_vs_trivial_view": ratios(result["live poll"], result["GET /api/me/"]),
        "queries": capture(ctx, f"/dashboard/live/?v={version}"),
    }
