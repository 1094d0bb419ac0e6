"""One new ticket per ``POST /api/sources/<id>/tickets/bulk/`` (token), beside
``GET /api/me/`` with the same token in the same server."""

from __future__ import annotations

from typing import Any

from bench.rows._http import interleave, ratios


def run(ctx: Any) -> dict[str, Any]:
    token = {"Authorization": f"Token {ctx.world['token']}"}
    post = {**token, "Content-Type": "application/json"}
    url = f"{ctx.portal.base}/api/sources/{ctx.world['ingest_desk']}/tickets/bulk/"
    cases = {
        "single-ticket POST": (url, post),
        "GET /api/me/": (f"{ctx.portal.base}/api/me/", token),
    }
    ticket = {
        "agreement": ctx.world["agreement_reference"],
        "service": ctx.world["portal_name"],
        "opened": ctx.opened_iso,
    }
    result = interleave(ctx, cases, **{"single-ticket POST": {"post_ticket": ticket}})
    pending = ctx.pending_evaluations()
    return {
        "subject": "single-ticket POST",
        "figures": result,
        "ratio_vs_trivial_view": ratios(result["single-ticket POST"], result["GET /api/me/"]),
        "evaluation_tasks_waiting_after": pending,
    }
