"""Every API operation against its own OpenAPI schema, with requests schemathesis generates.

For each operation of ``/api/schema/`` (found by schemathesis, so a new endpoint is covered
without anyone listing it), generated requests go to the portal's WSGI application on the real
PostgreSQL, as a service manager (who may write almost everything) and as a customer approver
(who is refused most writes and sees one organisation), each with an API token. Path
parameters are often the ids of real objects (``tests/support/matrix.build_world``), so the
generated bodies reach the serializers, not only the 404.

Each answer must be no 5xx, have a status code the schema documents for the operation, the
content type it documents, and a body that matches the documented schema. Generation is
bounded (``MAX_EXAMPLES`` per operation, fixed seed), so the run takes a few minutes and finds
the same thing every time.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, transaction
from django.test import Client
from hypothesis import HealthCheck, Phase, given, seed
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from sla_portal.core.tokens import create_token_for_tests
from tests.support.matrix import build_world

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

MAX_EXAMPLES = 12
SEED = 16
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def _load_schema() -> dict[str, Any]:
    response = Client().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return json.loads(response.content)


def _real_ids(world: dict) -> dict[str, list[Any]]:
    """Values for each path parameter name that name real objects of the world."""
    return {
        "id": [
            world[name].pk
            for name in (
                "agreement",
                "service",
                "calendar",
                "source",
                "ticket",
                "timer",
                "breach",
                "alert",
                "report",
                "comment",
                "review",
                "recompute",
                "period",
                "incident",
                "status_page",
            )
            if world.get(name) is not None
        ],
        "agreement_pk": [world["agreement"].pk, world["globex_agreement"].pk],
        "slug": [world["tier"].slug, world["acme"].slug, world["globex"].slug],
        "number": [world["version"].number],
    }


@contextmanager
def _connection_kept_open() -> Iterator[None]:
    """Requests served inside the test's transaction.

    Django closes the connection at the start and end of a request when its autocommit state
    differs from the settings (it does inside the test's transaction); its test client keeps
    it open by disconnecting that handler for each request (and connecting it again after),
    and so does this, for the whole run."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


def _run(actor: str) -> list[str]:
    world = build_world()
    user = world["users"][actor]
    key = create_token_for_tests(user)
    document = _load_schema()
    schema = schemathesis.openapi.from_dict(document)
    schema.app = get_wsgi_application()
    ids = _real_ids(world)
    failures: list[str] = []
    tested = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        tested += 1
        real = {
            name: st.sampled_from(ids[name])
            for name in (p.name for p in operation.path_parameters)
            if name in ids
        }

        @seed(SEED)
        @hypothesis_settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(
            case=operation.as_strategy(), use_real=st.booleans(), values=st.fixed_dictionaries(real)
        )
        def check(case, use_real, values) -> None:
            if use_real and values:
                case.path_parameters = {**(case.path_parameters or {}), **values}
            # Each request in a savepoint rolled back after it: every request meets the same
            # world (as deterministic as the seed), and a failing statement ends only its own
            # request, as it does in production's autocommit.
            savepoint = transaction.savepoint()
            try:
                case.call_and_validate(headers={"Authorization": f"Token {key}"}, checks=CHECKS)
            finally:
                transaction.savepoint_rollback(savepoint)

        try:
            with _connection_kept_open():
                check()
        except BaseException as exc:
            if isinstance(exc, KeyboardInterrupt):
                raise
            failures.append(f"{operation.label}: {str(exc)[:1500]}")
    # Every operation of the schema was run, not a subset schemathesis could not read.
    assert tested == sum(len(item) for item in document["paths"].values()) > 50
    return failures


@pytest.mark.parametrize("actor", ["alice_manager", "carol_customer"])
def test_every_operation_answers_as_its_schema_says(actor, settings):
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "localhost"]
    failures = _run(actor)
    assert not failures, f"{len(failures)} operations:\n\n" + "\n\n".join(failures)
