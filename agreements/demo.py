"""Demo catalogue, calendars, Gold/Silver/Bronze tiers and a realistic agreement per tier."""

from __future__ import annotations

from datetime import date, time
from decimal import Decimal as D

from django.db import transaction

from agreements.models import (
    Agreement,
    Calendar,
    CalendarHours,
    ClosureDate,
    Service,
    SupportChannel,
    Tier,
    TierCreditBand,
    TierTarget,
)
from agreements.services.drafting import agreement_create_from_tier
from sla_portal.core.models import Organisation, User

WEEKDAYS = range(5)


def _calendar(name: str, tz: str, country: str, subdiv: str, hours: dict, **extra) -> Calendar:
    calendar, _ = Calendar.objects.update_or_create(
        name=name,
        defaults={
            "timezone": tz,
            "holiday_country": country,
            "holiday_subdivision": subdiv,
            **extra,
        },
    )
    calendar.hours.all().delete()
    CalendarHours.objects.bulk_create(
        CalendarHours(calendar=calendar, weekday=day, start=start, end=end)
        for day, intervals in hours.items()
        for start, end in intervals
    )
    return calendar


def seed_calendars() -> dict[str, Calendar]:
    office = _calendar(
        "Berlin office hours",
        "Europe/Berlin",
        "DE",
        "BE",
        {day: [(time(8), time(18))] for day in WEEKDAYS},
        description="Mon–Fri 08:00–18:00 Berlin time, Berlin public holidays",
    )
    ClosureDate.objects.get_or_create(
        calendar=office, date=date(2026, 12, 24), defaults={"reason": "Christmas Eve closure"}
    )
    ClosureDate.objects.get_or_create(
        calendar=office, date=date(2026, 12, 31), defaults={"reason": "New Year's Eve closure"}
    )
    extended = _calendar(
        "Extended hours",
        "Europe/Berlin",
        "DE",
        "BE",
        {
            **{day: [(time(7), time(12)), (time(13), time(20))] for day in WEEKDAYS},
            5: [(time(9), time(13))],
        },
        description="Mon–Fri 07:00–12:00 and 13:00–20:00, Sat 09:00–13:00",
    )
    london = _calendar(
        "London service desk",
        "Europe/London",
        "GB",
        "ENG",
        {day: [(time(9), time(17, 30))] for day in WEEKDAYS},
        description="Mon–Fri 09:00–17:30 UK time, English bank holidays",
    )
    always = _calendar("24x7", "UTC", "", "", {}, is_24x7=True, description="Round the clock")
    return {"office": office, "extended": extended, "london": london, "always": always}


def _targets(tier: Tier, rows: list[dict]) -> None:
    tier.targets.all().delete()
    for position, row in enumerate(rows, start=1):
        target = TierTarget(tier=tier, position=position, **row)
        target.full_clean()
        target.save()


def _ticket_targets(calendar, response: dict, resolution: dict, goal: tuple) -> list[dict]:
    rows = []
    for metric, table, unit in (
        ("response_time", response, "minutes"),
        ("resolution_time", resolution, "hours"),
    ):
        for priority, (target, threshold) in table.items():
            rows.append(
                dict(
                    metric=metric,
                    priority=priority,
                    target_value=D(target),
                    threshold_value=D(threshold),
                    unit=unit,
                    direction="lower",
                    data_source="tickets",
                    calendar=calendar,
                    compliance_target=D(goal[0]),
                    compliance_threshold=D(goal[1]),
                )
            )
    return rows


def seed_tiers(calendars: dict[str, Calendar]) -> dict[str, Tier]:
    specs = {
        "gold": dict(
            name="Gold",
            position=1,
            fee=D("12000"),
            cap=D("30"),
            review=3,
            description="Business-critical services: 24x7 support, 99.9% availability.",
            service="always",
            support="always",
            maintenance=120,
            availability=("99.9", "99.5"),
            response={"P1": (15, 30), "P2": (30, 60), "P3": (120, 240), "P4": (480, 960)},
            resolution={"P1": (4, 8), "P2": (8, 16), "P3": (24, 48), "P4": (72, 120)},
            goal=("95", "90"),
            p95=("800", "1500"),
            errors=(2, 5),
            recovery=(2, 4),
            bands=[("99.9", "5"), ("99.5", "10"), ("99", "20"), ("98", "30")],
        ),
        "silver": dict(
            name="Silver",
            position=2,
            fee=D("6000"),
            cap=D("20"),
            review=6,
            description="Important services: extended-hours support, 99.5% availability.",
            service="extended",
            support="extended",
            maintenance=240,
            availability=("99.5", "99"),
            response={"P1": (30, 60), "P2": (60, 120), "P3": (240, 480), "P4": (960, 1920)},
            resolution={"P1": (8, 16), "P2": (16, 32), "P3": (40, 80), "P4": (120, 200)},
            goal=("90", "85"),
            p95=("1200", "2500"),
            errors=(5, 10),
            recovery=(4, 8),
            bands=[("99.5", "5"), ("99", "10"), ("98", "20")],
        ),
        "bronze": dict(
            name="Bronze",
            position=3,
            fee=D("2500"),
            cap=D("10"),
            review=12,
            description="Standard services: office-hours support, 99% availability.",
            service="office",
            support="office",
            maintenance=480,
            availability=("99", "98"),
            response={"P1": (60, 120), "P2": (240, 480), "P3": (480, 960), "P4": (1440, 2880)},
            resolution={"P1": (16, 24), "P2": (24, 48), "P3": (80, 120), "P4": (200, 400)},
            goal=("85", "80"),
            p95=("2000", "4000"),
            errors=(10, 20),
            recovery=(8, 24),
            bands=[("99", "5"), ("98", "10")],
        ),
    }
    tiers = {}
    for slug, spec in specs.items():
        tier, _ = Tier.objects.update_or_create(
            slug=slug,
            defaults=dict(
                name=spec["name"],
                position=spec["position"],
                description=spec["description"],
                service_calendar=calendars[spec["service"]],
                support_calendar=calendars[spec["support"]],
                review_interval_months=spec["review"],
                fee_amount=spec["fee"],
                currency="EUR",
                credit_cap_percent=spec["cap"],
                maintenance_max_minutes=spec["maintenance"],
                maintenance_notice_days=5,
                maintenance_excluded=True,
            ),
        )
        support = calendars[spec["support"]]
        rows = [
            dict(
                metric="availability",
                target_value=D(spec["availability"][0]),
                threshold_value=D(spec["availability"][1]),
                unit="percent",
                direction="higher",
                data_source="uptime",
                calendar=calendars[spec["service"]],
            ),
            *_ticket_targets(support, spec["response"], spec["resolution"], spec["goal"]),
            dict(
                metric="performance",
                name="p95 page load time",
                target_value=D(spec["p95"][0]),
                threshold_value=D(spec["p95"][1]),
                unit="ms",
                direction="lower",
                data_source="measurements",
            ),
            dict(
                metric="error_count",
                error_category="Data loss or corruption",
                target_value=D(0),
                threshold_value=D(1),
                unit="count",
                direction="lower",
                data_source="errors",
            ),
            dict(
                metric="error_count",
                error_category="Failed transactions",
                target_value=D(spec["errors"][0]),
                threshold_value=D(spec["errors"][1]),
                unit="count",
                direction="lower",
                data_source="errors",
            ),
            dict(
                metric="recovery_time",
                target_value=D(spec["recovery"][0]),
                threshold_value=D(spec["recovery"][1]),
                unit="hours",
                direction="lower",
                data_source="incidents",
            ),
            dict(
                metric="security_notification",
                target_value=D(24),
                threshold_value=D(72),
                unit="hours",
                direction="lower",
                data_source="security_incidents",
                compliance_target=D(100),
                compliance_threshold=D(100),
            ),
        ]
        _targets(tier, rows)
        tier.credit_bands.all().delete()
        TierCreditBand.objects.bulk_create(
            TierCreditBand(
                tier=tier, metric="availability", achieved_below=D(b), credit_percent=D(c)
            )
            for b, c in spec["bands"]
        )
        tiers[slug] = tier
    return tiers


def seed_services(manager: User | None) -> dict[str, Service]:
    rows = {
        "portal": (
            "Customer Portal",
            "critical",
            "Portal where customers book and track shipments.",
        ),
        "erp": ("ERP Hosting", "high", "Hosted ERP system: finance, purchasing, warehouse."),
        "email": ("Managed Email", "medium", "Mailboxes, calendars and spam filtering."),
        "records": ("Patient Records Platform", "critical", "Clinical records application."),
    }
    services = {}
    for key, (name, criticality, description) in rows.items():
        services[key], _ = Service.objects.update_or_create(
            name=name,
            defaults={"criticality": criticality, "description": description, "owner": manager},
        )
    return services


NARRATIVE = {
    "service_description": (
        "The provider operates the services listed above for the customer:\n\n"
        "- hosting, monitoring and patching of the production environment;\n"
        "- a service desk for incidents and service requests;\n"
        "- monthly compliance reports and quarterly service reviews."
    ),
    "scale": "About 1,200 named users at 14 sites; up to 40,000 transactions a day.",
    "business_impact": (
        "An outage stops order intake and dispatch; each hour of downtime delays about "
        "1,500 shipments."
    ),
    "after_hours_procedure": (
        "Outside desk hours, P1 incidents are reported by phone to the on-call line; the on-call "
        "engineer responds within the P1 target. Other priorities are handled on the next "
        "business day."
    ),
    "charging_formula": (
        "The fee is invoiced per period in advance. Service credits are deducted from the "
        "next invoice."
    ),
    "credit_exclusions": (
        "No credits for downtime caused by the customer, by force majeure, or during announced "
        "maintenance within the policy."
    ),
    "continuity_notes": "Backups are replicated hourly to a second data centre 40 km away.",
    "security_procedures": "Access follows least privilege; quarterly access reviews.",
    "security_protocols": "TLS 1.2+ for all traffic; SSO with MFA for administrators.",
    "security_measures": "ISO 27001 certified operations; annual penetration test.",
    "change_policy": (
        "Standard changes follow the change calendar; normal changes go through the change "
        "advisory board; emergency changes are reviewed afterwards."
    ),
    "change_approval": "Normal changes are approved by both service managers.",
}


@transaction.atomic
def seed_demo_agreements(organisations: dict[str, Organisation]) -> None:
    manager = User.objects.filter(username="manager").first()
    calendars = seed_calendars()
    tiers = seed_tiers(calendars)
    services = seed_services(manager)
    plans = [
        ("SLA-DEMO-0001", "Customer Portal and ERP – Gold", "gold", "acme", ["portal", "erp"]),
        ("SLA-DEMO-0002", "Managed Email – Bronze", "bronze", "acme", ["email"]),
        ("SLA-DEMO-0003", "Patient Records Platform – Silver", "silver", "globex", ["records"]),
    ]
    for reference, title, tier, customer, service_keys in plans:
        if Agreement.objects.filter(reference=reference).exists():
            # Agreements with history are never deleted: the demo keeps what people did.
            continue
        agreement = agreement_create_from_tier(
            tier=tiers[tier],
            customer=organisations[customer],
            title=title,
            services=[services[k] for k in service_keys],
            effective_from=date(2026, 1, 1),
            effective_to=date(2027, 12, 31),
            created_by=manager,
            reference=reference,
        )
        for field, text in NARRATIVE.items():
            setattr(agreement, field, text)
        agreement.rto_minutes, agreement.rpo_minutes = 240, 60
        agreement.dr_plan_reference = "DRP-2026-03 (rev. 4)"
        agreement.save()
        SupportChannel.objects.bulk_create(
            [
                SupportChannel(
                    agreement=agreement,
                    kind="phone",
                    contact="+49 30 1234 5670",
                    hours="desk hours; P1 on-call 24x7",
                ),
                SupportChannel(
                    agreement=agreement,
                    kind="email",
                    contact="service-desk@northwind.example",
                    hours="desk hours",
                ),
                SupportChannel(
                    agreement=agreement,
                    kind="portal",
                    contact="https://support.northwind.example",
                    hours="24x7",
                ),
            ]
        )


def seed_demo_proposal() -> None:
    """SLA-DEMO-0002 proposed to Acme, taking effect on the first of next month: a newcomer
    logged in as ``acme-approver`` finds a proposal waiting, and can comment, ask for a
    change, accept and sign it; the manager then sees it as "Signed, takes effect on …".
    Idempotent: an agreement already proposed (or further on) is left as people left it."""
    from django.utils import timezone

    from agreements.services import lifecycle

    agreement = Agreement.objects.filter(reference="SLA-DEMO-0002").first()
    manager = User.objects.filter(username="manager").first()
    if agreement is None or manager is None or agreement.versions.exists():
        return
    today = timezone.localdate()
    agreement.effective_from = date(today.year + today.month // 12, today.month % 12 + 1, 1)
    agreement.save(update_fields=["effective_from"])
    lifecycle.propose(agreement, manager, note="Demo: the Bronze terms for managed email.")
