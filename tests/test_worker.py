"""A real Celery worker process on the real broker runs a task whose effect lands in the DB."""

import time

import pytest

from sla_portal.core.models import WorkerHeartbeat
from sla_portal.core.tasks import heartbeat

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def wait_for(predicate, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.2)
    raise AssertionError(f"condition not met within {timeout}s")


def test_worker_runs_the_heartbeat_task_and_healthz_turns_green(
    celery_worker_process, client, settings
):
    # Only the worker's own part is judged here: no deadline loop or mailer runs in this test.
    settings.HEALTH_REQUIRED_PARTS = ["database", "broker", "worker"]
    assert client.get("/healthz").status_code == 503
    heartbeat.delay()
    beat = wait_for(lambda: WorkerHeartbeat.objects.filter(name="worker").first())
    assert beat.hostname
    response = client.get("/healthz")
    assert response.status_code == 200, response.json()
    assert response.json()["checks"]["worker"]["ok"] is True
