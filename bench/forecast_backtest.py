"""The backtest of ``docs/forecasts.md`` on the real imported histories: the devzero health
checks (two endpoints, each under a Gold agreement: availability 99.9 %, threshold 99.5 %)
and the UCI ServiceNow incident log (under the Gold agreement of ``bench/uci_compliance.py``:
ticket shares, 95 % within target, threshold 90 %).

Steps, through the product's own code: a fresh database is migrated; the UCI agreement is
created and its file imported with ``import_servicenow`` (``bench/uci_compliance.py``); one
customer per devzero endpoint gets a Gold agreement in force from 2025-02-01 to 2026-07-31
(the full months of the log) and the log is imported with ``import_checks --format
healthcheck``; ``evaluate_pending_tickets`` and ``evaluate_periods`` close every period;
then ``manage.py backtest_forecasts`` prints one table per history.

Usage (from the project root)::

    SLA_SHARED_DATA=/work/shared/data .venv/bin/python bench/forecast_backtest.py --recreate \\
        --database-url postgres://postgres@127.0.0.1:5432/forecast_backtest
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import os
import sys
import time
from collections.abc import Sequence
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import uci_compliance  # noqa: E402

# The shared data sets: SLA_SHARED_DATA, else ../shared/data beside the checkout.
DATA = Path(os.environ.get("SLA_SHARED_DATA", ROOT.parent / "shared" / "data"))
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/forecast_backtest"
# The devzero endpoints and the portal service each is measured as.
ENDPOINTS = {"api": "ERP Hosting", "homepage": "Customer Portal"}


def devzero_agreement(key: str, service_name: str):
    """A customer for one devzero endpoint with a Gold agreement for its service, in force
    over the log's full months, signed by both sides (the UCI setup made the provider)."""
    from agreements.models import Service, Tier
    from agreements.services import lifecycle
    from agreements.services.drafting import agreement_create_from_tier
    from sla_portal.core.models import Organisation, Role, User

    manager = User.objects.get(username="manager")
    customer = Organisation.objects.create(name=f"devzero {key}", slug=f"devzero-{key}")
    approver = User.objects.create_user(
        f"approver-{key}",
        f"{key}@devzero.example",
        role=Role.CUSTOMER_APPROVER,
        organisation=customer,
    )
    agreement = agreement_create_from_tier(
        tier=Tier.objects.get(slug="gold"),
        customer=customer,
        title=f"devzero {key} – Gold",
        services=[Service.objects.get(name=service_name)],
        effective_from=date(2025, 2, 1),
        effective_to=date(2026, 7, 31),
        created_by=manager,
    )
    agreement.service_description = f"The devzero {key} endpoint (health-check log)."
    agreement.change_policy = "Not applicable: historical data."
    agreement.save()
    version = lifecycle.propose(agreement, manager, confirm_incomplete=True)
    lifecycle.accept(agreement, approver, version.number)
    lifecycle.sign(agreement, manager)
    lifecycle.sign(agreement, approver)
    agreement.refresh_from_db()
    if agreement.status != "active":
        raise SystemExit(f"the agreement is {agreement.status}, not active")
    return agreement


def _one_endpoint(path: Path, key: str) -> Path:
    """The log's rows of one endpoint, in a file of their own: each endpoint belongs to
    another customer, and an import maps every monitor of its file."""
    target = Path(os.environ["SLA_VAR_DIR"]) / f"devzero-{key}.csv"
    target.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "rt", newline="") as raw, target.open("w", newline="") as out:
        rows = csv.reader(raw)
        writer = csv.writer(out)
        writer.writerow(next(rows))
        writer.writerows(row for row in rows if row and row[0] == key)
    return target


def import_devzero(data: Path, key: str, service_name: str) -> str:
    from django.core.management import call_command

    out = io.StringIO()
    call_command(
        "import_checks",
        str(_one_endpoint(data / "uptime" / "devzero-checks.csv.gz", key)),
        customer=f"devzero-{key}",
        source=f"devzero health checks ({key})",
        format="healthcheck",
        map=[f"{key}={service_name}"],
        stdout=out,
    )
    return next(line for line in out.getvalue().splitlines() if line.startswith("Imported"))


def step(name: str, work):
    print(f"... {name}", file=sys.stderr, flush=True)
    started = time.perf_counter()
    result = work()
    print(f"    {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--recreate", action="store_true", help="Drop the database first.")
    parser.add_argument("--data", type=Path, default=DATA, help="The shared data directory.")
    parser.add_argument(
        "--reuse", action="store_true", help="Keep the prepared data; only run the backtest."
    )
    args = parser.parse_args(argv)

    uci_compliance.prepare_database(args.database_url, args.recreate)
    uci_compliance.setup_django(args.database_url)

    from django.core.management import call_command
    from django.utils import timezone

    from agreements.models import Agreement
    from monitoring.evaluation.periods import evaluate_periods
    from monitoring.evaluation.tickets import evaluate_pending_tickets

    if not args.reuse:
        step("migrate", lambda: call_command("migrate", verbosity=0))
        uci = step("UCI agreement", lambda: uci_compliance.create_agreement("gold"))
        print(
            "   ",
            step(
                "import_servicenow",
                lambda: uci_compliance.import_file(
                    args.data / "uci-incident-log" / "incident_event_log.csv.zip", uci, None
                ),
            ),
            file=sys.stderr,
        )
        for key, service in ENDPOINTS.items():
            step(f"devzero {key} agreement", lambda k=key, s=service: devzero_agreement(k, s))
            print(
                "   ",
                step(
                    f"import_checks {key}", lambda k=key, s=service: import_devzero(args.data, k, s)
                ),
                file=sys.stderr,
            )
        now = timezone.now()
        step("evaluate_pending_tickets", lambda: evaluate_pending_tickets(now))
        step("evaluate_periods", lambda: evaluate_periods(now))

    histories = [("UCI ServiceNow incident log, Gold", "uci")] + [
        (f"devzero health checks, {key}, Gold", f"devzero-{key}") for key in ENDPOINTS
    ]
    for title, slug in histories:
        reference = Agreement.objects.get(customer__slug=slug).reference
        out = io.StringIO()
        step(
            f"backtest_forecasts {reference}",
            lambda r=reference, o=out, t=title: call_command(
                "backtest_forecasts", "--agreement", r, "--title", t, stdout=o
            ),
        )
        print(f"<!-- manage.py backtest_forecasts --agreement {reference} -->")
        print(out.getvalue())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
