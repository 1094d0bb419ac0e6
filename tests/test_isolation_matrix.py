"""Every URL pattern by every identity: who may reach what, and no tenant ever sees another's.

The routes are found by walking the resolver (``tests/support/matrix.py``), so a route added
later is checked without anyone remembering it. Each route's arguments are filled with real
objects of Acme (the owner organisation); a route whose arguments cannot be filled must be
named in ``UNFILLABLE`` with the reason, and every route must belong to a group of
``GROUPS``: a new route that is in neither fails here and says what to add.

Each cell is one GET (a POST with an empty body where GET answers 405, but only for an
identity that must be refused, so nothing is changed by the probe; an API detail route also
gets an empty PATCH from every identity that must be refused). What a cell may answer comes
from its route's group and the identity, never from the route itself, and no cell may
answer 5xx.
"""

from __future__ import annotations

import fnmatch

import pytest
from django.test import Client

from tests.support.matrix import (
    ACME_SOURCE,
    ACME_TICKET,
    ACME_TITLE,
    GLOBEX_TITLE,
    Route,
    build_world,
    discover_routes,
    outcome,
)

pytestmark = pytest.mark.django_db

IDENTITIES = (
    "anonymous",
    "ada_admin",
    "alice_manager",
    "tom_team",
    "carol_customer",
    "victor_viewer",
    "other_org_viewer",
)
PROVIDERS = {"ada_admin", "alice_manager", "tom_team"}
MANAGERS = {"ada_admin", "alice_manager"}
ACME_CUSTOMERS = {"carol_customer", "victor_viewer"}
CUSTOMERS = ACME_CUSTOMERS | {"other_org_viewer"}

# Routes whose arguments name no object of Acme's, with the reason; they are still requested
# (with the made-up values given) and must still never answer 5xx or show Acme's data.
UNFILLABLE: dict[str, tuple[str, dict[str, str]]] = {
    "core:invitation": ("signed one-time invitation link", {"uidb64": "MQ", "token": "x-y"}),
    "password_reset_confirm": ("signed password-reset link", {"uidb64": "MQ", "token": "x-y"}),
    "monitoring:csv-mapping": ("upload token kept in the uploader's session", {"token": "nope"}),
    "monitoring:event-log-columns": ("upload token kept in the session", {"token": "nope"}),
    "monitoring:event-log-states": ("upload token kept in the session", {"token": "nope"}),
    "api-root": ("format suffix of the API root", {"format": ".json"}),
}

# Routes whose filled argument is itself the credential: whoever holds it is shown the object
# (the link of an alert email names the alert and its recipient), so their bodies are not
# checked for Acme's text.
CAPABILITY_LINKS = {
    "monitoring:alert-ack-link",
    "monitoring:survey-answer",
    "status-page",
    "status-subscribe",
}

# Which group each route belongs to, by name (shell-style patterns, first match wins):
#   public          no sign-in: about signing in, or authenticated by a signature or a token
#   poll            polled by open pages: an empty answer (204, or htmx's 286 "stop polling")
#                   for anonymous callers, never data
#   signed_in       every signed-in person; lists show only what the person may see
#   acme            an object of Acme's: the provider and Acme's people, nobody else
#   acme_write      a POST-only action on an object of Acme's (who may act is the action's
#                   own rule, tested beside it): nobody outside Acme and the provider
#   provider        provider staff only (any provider role)
#   manager         provider admins and service managers: never the team, never customers
#   people_admin    provider admins only (invitations, roles, accounts)
#   own_tokens      a person's API tokens: that person and provider admins
#   admin           Django's admin: staff only (the provider admin)
GROUPS: list[tuple[str, str]] = [
    ("admin:login", "public"),
    ("admin:logout", "public"),
    ("admin:*", "admin"),
    ("login", "public"),
    ("logout", "public"),
    ("password_reset*", "public"),
    ("core:invitation", "public"),
    ("healthz", "public"),
    ("monitoring:hook-*", "public"),
    ("monitoring:alert-ack-link", "public"),
    ("monitoring:survey-answer", "public"),
    ("api-schema", "public"),
    ("api-docs", "public"),
    # The public status page: its random token is the key; its subscription links are signed.
    ("status-page", "public"),
    ("status-subscribe", "public"),
    ("status-confirm", "public"),
    ("status-unsubscribe", "public"),
    # Pages and lists for every signed-in person.
    ("reporting:dashboard-live", "poll"),
    ("reporting:inbox-badge", "poll"),
    ("home", "signed_in"),
    ("password_change*", "signed_in"),
    ("core:organisation-list", "signed_in"),
    ("core:tokens", "signed_in"),
    ("agreements:list", "signed_in"),
    ("agreements:service-list", "signed_in"),
    ("agreements:calendar-list", "signed_in"),
    ("monitoring:ticket-list", "signed_in"),
    ("monitoring:alert-list", "signed_in"),
    ("monitoring:import-list", "signed_in"),
    ("monitoring:source-list", "signed_in"),
    ("reporting:dashboard*", "signed_in"),
    ("reporting:inbox*", "signed_in"),
    ("reporting:report-list", "signed_in"),
    ("api-root", "signed_in"),
    ("api-me", "signed_in"),
    # People.
    ("core:organisation-create", "people_admin"),
    ("core:invite", "people_admin"),
    ("core:user-*", "people_admin"),
    ("core:invitation-resend", "people_admin"),
    ("core:person-tokens", "own_tokens"),
    ("core:token-revoke", "acme_write"),
    # The catalogue: the provider's to edit, tiers and calendars the provider's to read.
    ("agreements:create", "manager"),
    ("agreements:edit*", "manager"),
    ("agreements:*-create", "manager"),
    ("agreements:*-edit", "manager"),
    ("agreements:openslo-import", "manager"),
    ("agreements:tier-*", "provider"),
    ("agreements:calendar-detail", "provider"),
    ("calendar-detail", "provider"),
    ("tier-detail", "provider"),
    ("agreement-tier-differences", "provider"),
    # Agreements and their lifecycle.
    ("agreements:transition", "acme_write"),
    ("agreements:comment*", "acme_write"),
    ("agreements:supporting-create", "acme_write"),
    ("agreement-transition-*", "acme_write"),
    ("agreement-comment-re*", "acme_write"),
    ("monitoring:escalation-remove", "manager"),
    ("monitoring:alert-ack", "acme_write"),
    ("alert-acknowledge", "acme_write"),
    # Monitoring feeds: managed by the provider's managers.
    ("monitoring:import-new", "manager"),
    ("monitoring:csv-*", "manager"),
    ("monitoring:event-log-*", "manager"),
    ("monitoring:import-retry", "manager"),
    ("monitoring:source-new", "manager"),
    ("monitoring:source-create", "manager"),
    ("monitoring:source-edit", "manager"),
    ("monitoring:source-toggle", "manager"),
    ("monitoring:source-rotate-secret", "manager"),
    ("source-rotate-secret", "manager"),
    ("monitoring:source-sharing", "manager"),
    ("source-sharing", "manager"),
    ("source-*-bulk", "manager"),
    # Reports and recomputes.
    ("reporting:report-issue", "manager"),
    ("reporting:report-correct", "manager"),
    ("reporting:recompute-*", "manager"),
    ("recompute-*", "manager"),
    # Incidents: read as scoped, posted by managers; status page links: the provider's.
    ("reporting:incident-new", "manager"),
    ("incident-updates", "acme_write"),
    ("reporting:status-page-list", "provider"),
    ("reporting:status-page-action", "manager"),
    ("status-page-list", "provider"),
    ("status-page-detail", "provider"),
    ("status-page-rotate", "manager"),
    # A replay on history is for the two sides that negotiate: the provider's managers and
    # the customer's approvers (not its viewers, not the provider's team).
    ("reporting:agreement-replay", "negotiators"),
    ("agreement-replay-list", "negotiators"),
    # Lists under one agreement are that agreement's; every other list is scoped.
    ("agreement-*-list", "acme"),
    ("*-list", "signed_in"),
    # Everything else names one object of Acme's.
    ("organisation", "acme"),
    ("agreements:*", "acme"),
    ("monitoring:*", "acme"),
    ("reporting:*", "acme"),
    ("*-detail", "acme"),
    ("agreement-*", "acme"),
    ("report-csv", "acme"),
    ("report-pdf", "acme"),
]

ALLOWED = {"ok", "refused", "method"}  # served, or refused as input (never as a person)
REFUSED = {"denied"}


def expected(group: str, identity: str) -> set[str] | None:
    """The outcome classes a cell may answer; None: anything but 5xx."""
    if group == "public":
        return None
    if group == "poll":
        return ALLOWED
    if group == "admin":
        return ALLOWED | REFUSED if identity == "ada_admin" else {"login"}
    if identity == "anonymous":
        return {"login", "denied"}
    if group == "signed_in":
        return ALLOWED
    allowed = {
        "acme": PROVIDERS | ACME_CUSTOMERS,
        "acme_write": PROVIDERS | ACME_CUSTOMERS,
        "provider": PROVIDERS,
        "manager": MANAGERS,
        "negotiators": MANAGERS | {"carol_customer"},
        "people_admin": {"ada_admin"},
        "own_tokens": {"ada_admin", "victor_viewer"},
    }[group]
    return ALLOWED if identity in allowed else REFUSED


# Cells known to answer otherwise, with the reason: each must still fail (strict), so a fix
# removes its line here.
KNOWN_GAPS: dict[tuple[str, str], str] = {}


# ---------------------------------------------------------------------------- the world


@pytest.fixture
def world(settings):
    settings.REPORT_REVIEW_DAYS = 0
    return build_world()


def _pk(key: str):
    return lambda world: world[key].pk


# How to fill each argument, by the route's first path segment (after ``api/``), then by
# route name for nested routes whose ``pk`` is not the segment's object.
FILL_BY_RESOURCE = {
    "organisations": {"slug": lambda w: w["acme"].slug},
    "people": {"pk": lambda w: w["users"]["victor_viewer"].pk},
    "users": {"pk": lambda w: w["users"]["victor_viewer"].pk},
    "account": {"pk": _pk("api_token")},
    "agreements": {
        "pk": _pk("agreement"),
        "agreement_pk": _pk("agreement"),
        "section": lambda w: "description",
        "action": lambda w: "accept",
        "comment_id": _pk("comment"),
        "review_id": _pk("review"),
        "contact_pk": _pk("contact"),
        "number": lambda w: w["version"].number,
    },
    "dashboard": {"pk": _pk("agreement")},
    "services": {"pk": _pk("service")},
    "calendars": {"pk": _pk("calendar")},
    "tiers": {"slug": lambda w: w["tier"].slug},
    "targets": {"pk": lambda w: w["agreement"].targets.first().pk},
    "tickets": {"pk": _pk("ticket")},
    "timers": {"pk": _pk("timer")},
    "compliance": {"pk": _pk("period")},
    "breaches": {"pk": _pk("breach")},
    "alerts": {"pk": _pk("alert"), "token": lambda w: w["ack_token"]},
    "imports": {"pk": _pk("import_job")},
    "sources": {"pk": _pk("source"), "group": lambda w: "webhook"},
    "hooks": {"source_id": _pk("source")},
    "reports": {"pk": _pk("report")},
    "surveys": {"pk": _pk("survey"), "token": lambda w: w["survey_token"]},
    "recompute": {"pk": _pk("recompute")},
    "incidents": {"pk": _pk("incident")},
    "status-pages": {"pk": _pk("status_page"), "action": lambda w: "rotate"},
    "status": {"token": lambda w: w["status_token"]},
}
FILL_BY_NAME = {
    "agreement-comment-": {"pk": _pk("comment")},
    "agreement-review-": {"pk": _pk("review")},
    # The CSV and PDF of a report answer only their own format suffix.
    "report-csv": {"format": lambda w: "csv"},
    "report-pdf": {"format": lambda w: "pdf"},
}


def fill_values(route: Route, world: dict) -> dict[str, str] | None:
    """Acme's objects for the route's arguments, or None if some argument has no rule."""
    if route.name in UNFILLABLE:
        return UNFILLABLE[route.name][1]
    if route.name.startswith("admin:"):
        return {name: _admin_value(route, name) for name in route.kwargs}
    rules = {"format": lambda w: "json", **FILL_BY_RESOURCE.get(route.resource, {})}
    for prefix, extra in FILL_BY_NAME.items():
        if route.name.startswith(prefix):
            rules.update(extra)
    if any(name not in rules for name in route.kwargs):
        return None
    return {name: str(rules[name](world)) for name in route.kwargs}


def _admin_value(route: Route, name: str) -> str:
    import re

    choice = re.search(rf"\(\?P<{name}>(\w+)\|", route.pattern)
    return choice.group(1) if choice else "1"


def group_of(route: Route) -> str | None:
    for pattern, group in GROUPS:
        if fnmatch.fnmatchcase(route.name, pattern):
            return group
    return None


# ---------------------------------------------------------------------------- the tests


def test_every_route_can_be_filled_and_has_a_group(world):
    routes = discover_routes()
    assert len(routes) > 200
    unfilled = [r.pattern for r in routes if fill_values(r, world) is None]
    ungrouped = [r.name or r.pattern for r in routes if group_of(r) is None]
    assert not ungrouped, (
        "These routes belong to no group of the isolation matrix: add them to GROUPS "
        "(tests/test_isolation_matrix.py) with who may reach them:\n  " + "\n  ".join(ungrouped)
    )
    assert not unfilled, (
        "These routes have arguments the isolation matrix cannot fill with Acme's objects: "
        "teach fill_values() the argument or list the route in UNFILLABLE with the reason:\n  "
        + "\n  ".join(unfilled)
    )


def test_a_new_route_needs_a_group_and_its_arguments():
    """A route added without telling the matrix fails the first test with a clear message."""
    from django.http import HttpResponse
    from django.urls import URLResolver, path
    from django.urls.resolvers import RoutePattern

    def export(request, pk):
        return HttpResponse("everything")

    extra = URLResolver(RoutePattern(""), [path("exports/<int:batch>/", export, name="x")])
    [route] = discover_routes(extra)
    assert group_of(route) is None
    assert fill_values(route, {}) is None


def _clients(world: dict) -> dict[str, Client]:
    clients = {"anonymous": Client(raise_request_exception=False)}
    for name in IDENTITIES[1:]:
        clients[name] = Client(raise_request_exception=False)
        clients[name].force_login(world["users"][name])
    return clients


def _forbidden_text(world: dict, identity: str) -> list[str]:
    """Text the identity must never be shown: the other tenant's, and any signing secret."""
    secret = world["source"].signing_secret
    if identity in ("anonymous", "other_org_viewer"):
        return [ACME_TITLE, ACME_TICKET, ACME_SOURCE, secret]
    if identity in ACME_CUSTOMERS:
        return [GLOBEX_TITLE, secret]
    return [secret]


def _cell(client: Client, route: Route, url: str, identity: str, allowed: set | None) -> list:
    """The responses of one cell: the GET, and the write probes for a refused identity."""
    api_anonymous = route.is_api and identity == "anonymous"
    responses = [client.get(url)]
    refused = allowed is not None and not (allowed & ALLOWED)
    if refused and responses[0].status_code == 405:
        responses.append(client.post(url))
    if refused and route.is_api and route.name.endswith("-detail"):
        responses.append(client.patch(url, data="{}", content_type="application/json"))
    return [(r, outcome(r, api_anonymous)) for r in responses]


def test_isolation_matrix(world):
    """Every route by every identity answers as its group says, never 5xx, never a leak."""
    clients = _clients(world)
    problems: list[str] = []
    met_gaps: set[tuple[str, str]] = set()
    cells = requests = 0
    for route in discover_routes():
        values = fill_values(route, world)
        group = group_of(route)
        if values is None or group is None:
            continue  # test_every_route_can_be_filled_and_has_a_group names these
        url = route.url(values)
        for identity, client in clients.items():
            allowed = expected(group, identity)
            if allowed is not None and route.name in UNFILLABLE:
                allowed = allowed | REFUSED  # a made-up token is refused to everyone
            cells += 1
            for response, kind in _cell(client, route, url, identity, allowed):
                requests += 1
                method = response.request["REQUEST_METHOD"]
                wrong = []
                if kind == "error" and not (
                    route.name == "healthz" and response.status_code == 503
                ):
                    wrong.append(f"answered {response.status_code}")
                elif allowed is not None and kind not in allowed and kind != "method":
                    wrong.append(f"answered {response.status_code} ({kind}), expected {allowed}")
                if (
                    response.status_code == 200
                    and not response.streaming
                    and route.name not in CAPABILITY_LINKS
                ):
                    body = response.content.decode(errors="replace")
                    leaked = [t for t in _forbidden_text(world, identity) if t in body]
                    if leaked:
                        wrong.append(f"shows {leaked}")
                if wrong:
                    if (route.name, identity) in KNOWN_GAPS:
                        met_gaps.add((route.name, identity))
                        continue
                    problems.append(f"{method} {url} as {identity} [{group}]: {'; '.join(wrong)}")
    fixed = set(KNOWN_GAPS) - met_gaps
    assert not fixed, f"Known gaps that no longer fail (remove them from KNOWN_GAPS): {fixed}"
    assert cells > 2000
    print(f"isolation matrix: {cells} cells, {requests} requests")
    assert not problems, f"{len(problems)} of {cells} cells wrong:\n  " + "\n  ".join(problems)


def test_every_api_handler_accepts_the_format_suffix():
    """The router adds a ``.json`` variant of every route and passes ``format`` to its
    handler; a handler without the argument answers 500 there. The matrix only reaches
    POST-only handlers as refused identities (refused before the handler runs), so every
    handler's signature is checked here."""
    import inspect

    from sla_portal.api_router import router

    standard = ("list", "create", "retrieve", "update", "partial_update", "destroy")
    missing = []
    for _, viewset, _ in router.registry:
        handlers = [getattr(viewset, name) for name in standard if hasattr(viewset, name)]
        for handler in [*handlers, *viewset.get_extra_actions()]:
            parameters = inspect.signature(handler).parameters.values()
            if not any(p.name == "format" or p.kind is p.VAR_KEYWORD for p in parameters):
                missing.append(f"{viewset.__name__}.{handler.__name__}")
    assert not missing, f"Add `format: str | None = None` to: {missing}"


def test_an_action_answers_on_its_format_suffix(alice_manager, acme):
    from monitoring.models import Source

    source = Source.objects.create(customer=acme, name="Acme desk")
    client = Client(raise_request_exception=False)
    client.force_login(alice_manager)
    response = client.post(f"/api/sources/{source.pk}/rotate-secret.json")
    assert response.status_code == 200, response.content


def test_a_draft_grants_its_customer_no_sight_of_a_shared_service(
    client, other_org_viewer, active_acme_agreement, tiers, services, globex, alice_manager
):
    """Naming Acme's service in a draft for Globex shows Globex neither the service, nor its
    check history, nor its calendar; proposing the agreement does."""
    from datetime import date

    from agreements.services.drafting import agreement_create_from_tier
    from tests.support.agreements import propose_to_customer

    draft = agreement_create_from_tier(
        tier=tiers["gold"],
        customer=globex,
        title="Draft on a shared service",
        services=[services["portal"]],
        effective_from=date(2026, 1, 1),
        created_by=alice_manager,
    )
    portal = services["portal"].pk
    calendar = active_acme_agreement.support_calendar.pk
    urls = [f"/services/{portal}/", f"/services/{portal}/checks/", f"/api/services/{portal}/"]
    client.force_login(other_org_viewer)
    assert [client.get(url).status_code for url in urls] == [404, 404, 404]
    assert client.get(f"/api/calendars/{calendar}/").status_code == 404
    propose_to_customer(draft, alice_manager)
    assert [client.get(url).status_code for url in urls] == [200, 200, 200]
