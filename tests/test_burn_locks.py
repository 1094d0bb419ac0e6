"""A burn computation and an availability deadline of the same agreement, run by two
deadline loops at once, on PostgreSQL with real commits.

The burn claim holds the period row (its conditional UPDATE) and inserts an alert; the
availability deadline locks the agreement and then writes the same period row, so it waits
for the burn claim's commit. The alert's agreement column has no database constraint, so
that commit takes no lock on the agreement today; should a reference to the agreement be
checked there (FOR KEY SHARE), the deadline's lock on the agreement must not conflict with it
(FOR NO KEY UPDATE, as ``evaluate_agreement_periods`` takes), or the two loops deadlock.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, transaction

from monitoring.evaluation.period_deadlines import claim_period_deadlines
from monitoring.evaluation.periods import evaluate_periods
from monitoring.ingest.uptime import checks_ingest
from monitoring.models import Alert, BurnLevel, PeriodResult

OPENED = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


@pytest.mark.django_db(transaction=True)
def test_a_burn_claim_and_an_availability_deadline_do_not_deadlock(
    active_acme_agreement, acme_desk, services
):
    agreement = active_acme_agreement
    checks_ingest(
        acme_desk,
        services["portal"],
        [
            {"checked_at": datetime(2026, 3, 1, tzinfo=UTC).isoformat(), "status": "up"},
            {"checked_at": OPENED.isoformat(), "status": "down"},
            {"checked_at": (OPENED + timedelta(minutes=30)).isoformat(), "status": "down"},
        ],
    )
    evaluate_periods(OPENED + timedelta(minutes=10), [agreement.pk])
    row = PeriodResult.objects.get(
        agreement=agreement, metric="availability", period_start=datetime(2026, 3, 1, tzinfo=UTC)
    )
    due = row.next_due
    assert due is not None
    holding = threading.Event()
    errors: list[BaseException] = []

    def burn_claim() -> None:
        # What ``claim_burn_deadlines`` does: claim the row, then insert a burn alert.
        try:
            with transaction.atomic():
                PeriodResult.objects.filter(pk=row.pk).update(burn_due=None)
                holding.set()
                # Give the other loop time to lock the agreement and queue on the row.
                threading.Event().wait(0.5)
                Alert.objects.create(
                    agreement_id=agreement.pk,
                    customer_id=row.customer_id,
                    target_key=row.target_key,
                    target_label=row.target_label,
                    period_result_id=row.pk,
                    level=BurnLevel.PAGE,
                    burn_rule="page-1h",
                    reached_at=due,
                    raised_at=due,
                    due_at=row.period_end,
                )
                # What a foreign key to the agreement checks (a row inserted here that
                # references it with a database constraint).
                with connection.cursor() as cursor:
                    cursor.execute(
                        "SELECT 1 FROM agreements_agreement WHERE id = %s FOR KEY SHARE",
                        [agreement.pk],
                    )
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            connection.close()

    def deadline_loop() -> None:
        try:
            holding.wait(5)
            claim_period_deadlines(due)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=burn_claim), threading.Thread(target=deadline_loop)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert Alert.objects.filter(period_result=row, burn_rule="page-1h").count() == 1
    assert Alert.objects.filter(period_result=row, level="warning").count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_burn_migration_goes_back_after_two_rules_fired_at_one_level(
    active_acme_agreement, acme_desk, services
):
    from django.db.migrations.executor import MigrationExecutor

    def migrate(*targets: tuple[str, str]) -> None:
        executor = MigrationExecutor(connection)
        executor.migrate(list(targets) or executor.loader.graph.leaf_nodes())

    checks_ingest(
        acme_desk,
        services["portal"],
        [
            {"checked_at": datetime(2026, 3, 1, tzinfo=UTC).isoformat(), "status": "up"},
            {"checked_at": OPENED.isoformat(), "status": "down"},
        ],
    )
    evaluate_periods(OPENED + timedelta(minutes=10), [active_acme_agreement.pk])
    row = PeriodResult.objects.get(
        agreement=active_acme_agreement,
        metric="availability",
        period_start=datetime(2026, 3, 1, tzinfo=UTC),
    )
    for rule in ("page-1h", "page-6h"):
        Alert.objects.create(
            agreement_id=row.agreement_id,
            customer_id=row.customer_id,
            target_key=row.target_key,
            target_label=row.target_label,
            period_result_id=row.pk,
            level=BurnLevel.PAGE,
            burn_rule=rule,
            reached_at=OPENED,
            raised_at=OPENED,
            due_at=row.period_end,
        )
    try:
        migrate(("monitoring", "0025_survey_nps_round_on"))
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM monitoring_alert WHERE level = 'burn_page'")
            assert cursor.fetchone()[0] == 0
    finally:
        migrate()
