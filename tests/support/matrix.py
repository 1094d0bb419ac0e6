"""The isolation matrix's building blocks: every URL pattern found by walking the resolver,
one world of Acme objects to fill their arguments, and the outcome class of a response.

The walk finds routes by itself, so a route added tomorrow is in the matrix without anyone
remembering to add it (``tests/test_isolation_matrix.py`` decides what it may answer).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RoutePattern

from sla_portal.core.models import Organisation, Role
from tests.support.actors import make_user
from tests.support.agreements import complete_for_proposal, propose_to_customer

NOW = datetime(2026, 10, 20, 12, 0, tzinfo=UTC)
OPENED = datetime(2026, 9, 16, 17, 50, tzinfo=UTC)
ANSWERED = datetime(2026, 9, 17, 5, 25, tzinfo=UTC)

# Text that only Acme's objects carry: a 200 shown to anyone outside Acme and the provider
# must contain none of it (nor Globex's, shown to Acme).
ACME_TITLE = "Acme Freight Tracking Zeta"
ACME_TICKET = "ACME-INC-7731"
ACME_SOURCE = "Acme Zeta desk"
GLOBEX_TITLE = "Globex Ward Records Kappa"


@dataclass(frozen=True)
class Route:
    """One URL pattern: its full pattern text, its name and the parts to fill."""

    pattern: str
    name: str
    parts: tuple = field(repr=False)
    kwargs: tuple[str, ...]

    @property
    def is_api(self) -> bool:
        return self.pattern.startswith("api/")

    @property
    def resource(self) -> str:
        """The first path segment after ``api/`` (``agreements``, ``sources``, ...)."""
        text = self.pattern.removeprefix("api/").lstrip("^")
        return re.split(r"[/\\.(<]", text, maxsplit=1)[0]

    def url(self, values: dict[str, str]) -> str:
        return "/" + "".join(_fill(part, values) for part in self.parts)


def discover_routes(root: URLResolver | None = None) -> list[Route]:
    """Every URL pattern of the project, named or not, with DRF's format-suffix variants."""
    found: list[Route] = []

    def walk(resolver: URLResolver, parts: tuple, namespace: str) -> None:
        for entry in resolver.url_patterns:
            here = (*parts, entry.pattern)
            if isinstance(entry, URLResolver):
                inner = entry.namespace or ""
                walk(entry, here, f"{namespace}{inner}:" if inner else namespace)
            elif isinstance(entry, URLPattern):
                text = "".join(str(p) for p in here)
                kwargs = tuple(
                    dict.fromkeys(n for p in here for n in re.compile(_regex(p)).groupindex)
                )
                found.append(Route(text, f"{namespace}{entry.name or ''}", here, kwargs))

    walk(root or get_resolver(), (), "")
    return found


def _regex(pattern) -> str:
    return pattern.regex.pattern


def _fill(pattern, values: dict[str, str]) -> str:
    if isinstance(pattern, RoutePattern):
        return re.sub(r"<(?:\w+:)?(\w+)>", lambda m: values[m.group(1)], str(pattern))
    text = re.sub(
        r"\(\?P<(\w+)>(?:[^()]|\([^()]*\))*\)", lambda m: values[m.group(1)], str(pattern)
    )
    text = text.lstrip("^").replace("/?$", "").rstrip("$")
    return text.replace("\\.", ".").replace("\\", "")


def outcome(response, anonymous_api: bool = False) -> str:
    """The class of a response: ``login``, ``denied``, ``ok``, ``refused`` or ``error``."""
    status = response.status_code
    if status >= 500:
        return "error"
    if status in (301, 302, 303) and "/login/" in response.get("Location", ""):
        return "login"
    if status == 401 or (anonymous_api and status == 403):
        return "login"
    if status in (403, 404):
        return "denied"
    if status == 405:
        return "method"
    if status < 400 or status == 286:
        return "ok"
    return "refused"


def build_world() -> dict:
    """The organisations, the six actors and one Acme object of every kind a URL names."""
    from agreements.demo import seed_calendars, seed_services, seed_tiers
    from agreements.models import Comment, Review
    from agreements.services import lifecycle
    from agreements.services.drafting import agreement_create_from_tier
    from monitoring.evaluation import ack
    from monitoring.evaluation.periods import evaluate_periods
    from monitoring.evaluation.tickets import evaluate_pending_tickets
    from monitoring.experience.tokens import survey_token
    from monitoring.ingest.tickets import tickets_ingest
    from monitoring.models import (
        Alert,
        Breach,
        EscalationContact,
        ImportJob,
        PeriodResult,
        Source,
        Survey,
        Ticket,
        TicketTimer,
    )
    from reporting.models import Report
    from reporting.recompute.runs import recompute_request
    from reporting.services.reports import issue_due_reports
    from reporting.services.status import incident_create, status_page_create
    from sla_portal.core.models import ApiToken
    from sla_portal.core.tokens import create_token_for_tests

    provider = Organisation.objects.create(
        name="Northwind IT Services", slug="northwind", kind=Organisation.Kind.PROVIDER
    )
    acme = Organisation.objects.create(name="Acme Logistics", slug="acme")
    globex = Organisation.objects.create(name="Globex Health", slug="globex")
    users = {
        "ada_admin": make_user("ada_admin", provider, Role.PROVIDER_ADMIN),
        "alice_manager": make_user("alice_manager", provider, Role.SERVICE_MANAGER),
        "tom_team": make_user("tom_team", provider, Role.PROVIDER_TEAM),
        "carol_customer": make_user("carol_customer", acme, Role.CUSTOMER_APPROVER),
        "victor_viewer": make_user("victor_viewer", acme, Role.CUSTOMER_VIEWER),
        "other_org_viewer": make_user("other_org_viewer", globex, Role.CUSTOMER_VIEWER),
    }
    alice, carol = users["alice_manager"], users["carol_customer"]
    calendars = seed_calendars()
    tiers = seed_tiers(calendars)
    services = seed_services(alice)

    agreement = agreement_create_from_tier(
        tier=tiers["silver"],
        customer=acme,
        title=ACME_TITLE,
        services=[services["portal"]],
        effective_from=date(2026, 1, 1),
        effective_to=date(2027, 12, 31),
        created_by=alice,
    )
    complete_for_proposal(agreement)
    version = lifecycle.propose(agreement, alice)
    lifecycle.accept(agreement, carol, version.number)
    lifecycle.sign(agreement, alice)
    lifecycle.sign(agreement, carol)
    type(agreement).objects.filter(pk=agreement.pk).update(
        activated_at=datetime(2026, 1, 1, tzinfo=UTC)
    )
    agreement.refresh_from_db()

    globex_agreement = agreement_create_from_tier(
        tier=tiers["gold"],
        customer=globex,
        title=GLOBEX_TITLE,
        services=[services["records"]],
        effective_from=date(2026, 1, 1),
        created_by=alice,
    )
    propose_to_customer(globex_agreement, alice)
    # A draft for Globex naming Acme's service: a draft grants Globex no sight of it.
    agreement_create_from_tier(
        tier=tiers["bronze"] if "bronze" in tiers else tiers["silver"],
        customer=globex,
        title="Globex draft on a shared service",
        services=[services["portal"]],
        effective_from=date(2026, 1, 1),
        created_by=alice,
    )

    source = Source.objects.create(customer=acme, name=ACME_SOURCE, timezone="Europe/Berlin")
    tickets_ingest(
        source,
        [
            {
                "external_id": ACME_TICKET,
                "agreement": agreement.reference,
                "priority": "P1",
                "opened_at": OPENED.isoformat(),
                "first_response_at": ANSWERED.isoformat(),
                "resolved_at": (ANSWERED + timedelta(minutes=35)).isoformat(),
            }
        ],
    )
    evaluate_pending_tickets(NOW)
    evaluate_periods(NOW)
    issue_due_reports(NOW)
    alert = Alert.objects.filter(agreement=agreement).first()
    token_key = create_token_for_tests(carol)
    comment = Comment.objects.create(
        agreement=agreement, section="general", author=carol, body="Looks right to us."
    )
    survey = Survey.objects.create(
        kind="csat",
        agreement=agreement,
        customer=acme,
        ticket=Ticket.objects.get(external_id=ACME_TICKET),
    )
    status_page, status_token = status_page_create(acme, "Acme status", [], alice)
    incident = incident_create(
        acme, "Acme portal slow", "degraded", [services["portal"]], "Looking into it.", alice
    )
    objects = {
        "status_page": status_page,
        "status_token": status_token,
        "incident": incident,
        "provider": provider,
        "acme": acme,
        "globex": globex,
        "users": users,
        "agreement": agreement,
        "globex_agreement": globex_agreement,
        "version": version,
        "tier": tiers["silver"],
        "service": services["portal"],
        "calendar": agreement.calendar if hasattr(agreement, "calendar") else None,
        "source": source,
        "ticket": Ticket.objects.get(external_id=ACME_TICKET),
        "timer": TicketTimer.objects.filter(ticket__external_id=ACME_TICKET).first(),
        "period": PeriodResult.objects.filter(agreement=agreement).first(),
        "breach": Breach.objects.filter(agreement=agreement).first(),
        "alert": alert,
        "ack_token": ack.ack_token(alert, alice) if alert else "none",
        "survey": survey,
        "survey_token": survey_token(survey, 4),
        "report": Report.objects.filter(agreement=agreement).first(),
        "comment": comment,
        "review": Review.objects.create(
            agreement=agreement,
            due_date=date(2026, 12, 31),
            period_start=date(2026, 1, 1),
            period_end=date(2026, 12, 31),
        ),
        "contact": EscalationContact.objects.create(
            agreement=agreement, level="warning", email="duty@acme.example"
        ),
        "import_job": ImportJob.objects.create(
            source=source, format=ImportJob.Format.GENERIC_CSV, file="imports/acme.csv"
        ),
        "api_token": ApiToken.objects.get(key_hash__isnull=False, user=carol),
        "api_token_key": token_key,
        "recompute": recompute_request(
            alice, scope="agreement", agreement=agreement, reason="Matrix", now=NOW
        ),
    }
    if objects["calendar"] is None:
        objects["calendar"] = calendars[next(iter(calendars))]
    return objects
