"""The demo a newcomer meets with `make run`: every role finds something to do."""

from datetime import date
from io import StringIO

import pytest
from django.core.management import call_command

from agreements.models import Agreement
from reporting.selectors.inbox import inbox_for
from sla_portal.core.models import User


@pytest.mark.django_db
def test_the_demo_approver_finds_a_proposal_to_review_and_seeding_twice_changes_nothing(
    settings,
):
    settings.DEMO_MODE = True
    for _ in range(2):
        call_command("seed_demo", stdout=StringIO())

    proposal = Agreement.objects.get(reference="SLA-DEMO-0002")
    assert proposal.status == "in_negotiation" and proposal.versions.count() == 1
    assert proposal.effective_from.day == 1 and proposal.effective_from > date.today()
    inbox = inbox_for(User.objects.get(username="acme-approver"))
    [group] = [g for g in inbox.groups() if g.kind.key == "proposal"]
    assert "SLA-DEMO-0002" in group.items[0].title
    # Globex sees neither Acme's proposal nor the draft that was never proposed to it.
    assert inbox_for(User.objects.get(username="globex-approver")).count == 0


@pytest.mark.django_db
def test_the_demo_prints_a_working_status_page_link(settings, client):
    settings.DEMO_MODE = True
    links = []
    for _ in range(2):
        out = StringIO()
        call_command("seed_demo", stdout=out)
        links.append(out.getvalue().rsplit("(no login): ", 1)[1].strip())
    path = links[1].split("://", 1)[1].split("/", 1)[1]
    response = client.get(f"/{path}")
    assert response.status_code == 200 and b"Slow tracking pages" in response.content
    # Seeding again made a new link; the first one no longer works.
    assert client.get("/" + links[0].split("://", 1)[1].split("/", 1)[1]).status_code == 404
