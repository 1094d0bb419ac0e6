"""``manage.py backtest_forecasts``: how right the period-end forecasts would have been on
every closed period in the database (``monitoring.evaluation.backtest``), as Markdown tables
(``docs/forecasts.md``)."""

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError

from agreements.models import Agreement
from monitoring.compliance import backtest
from monitoring.evaluation.backtest import run_backtest


class Command(BaseCommand):
    help = (
        "Backtest the period-end forecasts over every closed period: per target kind, how "
        "often the forecast at 25/50/75 % of the period was right, the 80 % band's coverage, "
        "the lead time of correct warnings, beside the current value's."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--agreement",
            action="append",
            default=[],
            metavar="REFERENCE",
            help="Only this agreement's periods (repeat for more).",
        )
        parser.add_argument("--title", default="", help="A heading above the table.")
        parser.add_argument(
            "--step-hours",
            type=float,
            default=24.0,
            help="Scan each period at this step for the first warnings (0: no lead-time scan).",
        )

    def handle(self, *args, **options) -> None:
        ids = None
        if options["agreement"]:
            found = dict(
                Agreement.objects.filter(reference__in=options["agreement"]).values_list(
                    "reference", "pk"
                )
            )
            unknown = sorted(set(options["agreement"]) - set(found))
            if unknown:
                raise CommandError(f"No agreement with the reference {', '.join(unknown)}.")
            ids = list(found.values())
        hours = options["step_hours"]
        if hours < 0 or hours > 24 * 31:
            raise CommandError("--step-hours takes 0 (no scan) to 744 hours.")
        step = timedelta(hours=hours) if hours else None
        outcome = run_backtest(ids, step=step)
        rows = backtest.score(outcome.trials)
        if not rows:
            self.stdout.write("No closed period with a forecastable target and a verdict.")
            return
        self.stdout.write(backtest.markdown(rows, options["title"]))
        if step is not None:
            self.stdout.write(backtest.lead_markdown(backtest.score_leads(outcome.leads), hours))
