"""Organisations and people: pages, invitations by email, roles, deactivation; only provider
admins manage accounts, and a customer only ever sees its own organisation's people."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import authenticate
from django.core.exceptions import PermissionDenied, ValidationError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitoring.models import EscalationContact
from sla_portal.core import services
from sla_portal.core.models import AccountEvent, Notification, Organisation, Role, User
from sla_portal.core.notifications import deliver_due
from tests.support.actors import PASSWORD, make_user

pytestmark = pytest.mark.django_db


def invite(client, org_slug: str, email: str, role: str, **extra):
    return client.post(
        f"/organisations/{org_slug}/invite/",
        {"first_name": "Nina", "last_name": "New", "email": email, "role": role, **extra},
    )


def invitation_link(text: str) -> str:
    return re.search(r"https?://[^\s\"<]+/accounts/invitation/[^\s\"<]+/", text).group(0)


# --- The pages -----------------------------------------------------------------------------------


def test_the_organisations_link_opens_the_portal_page_not_the_api(client, carol_customer):
    client.force_login(carol_customer)
    home = client.get("/").content.decode()
    assert 'href="/organisations/"' in home and 'href="/organisations/acme/"' in home
    assert "/api/organisations/" not in home
    page = client.get("/organisations/")
    assert page.status_code == 200 and "Acme Logistics" in page.content.decode()


def test_organisation_page_lists_people_with_role_state_and_last_login(
    client, ada_admin, carol_customer, victor_viewer
):
    User.objects.filter(pk=victor_viewer.pk).update(is_active=False)
    client.force_login(carol_customer)
    body = client.get("/organisations/acme/").content.decode()
    for text in (
        "Carol Customer",
        "carol_customer@acme.example",
        "Customer approver",
        "Victor Viewer",
        "Deactivated",
        "Last login",
    ):
        assert text in body
    # The approver logged in just now (force_login); the viewer never did.
    assert "Never" in body
    # Customers read; they do not manage.
    assert "Invite a person" not in body and "Deactivate<span" not in body


def test_organisation_page_shows_signatories_and_escalation_contacts(
    client, active_acme_agreement, alice_manager, carol_customer, tom_team
):
    EscalationContact.objects.create(
        agreement=active_acme_agreement, level="breached", email="duty@acme.example"
    )
    EscalationContact.objects.create(
        agreement=active_acme_agreement, level="warning", user=tom_team
    )
    client.force_login(carol_customer)
    body = client.get("/organisations/acme/").content.decode()
    signatories = body.split('id="signatories-heading"')[1].split('id="escalation-heading"')[0]
    assert active_acme_agreement.reference in signatories and "Carol" in signatories
    assert "Alice" not in signatories  # the provider's signatory is on the provider's page
    escalation = body.split('id="escalation-heading"')[1]
    assert "duty@acme.example" in escalation and "Threshold breached" in escalation
    assert "Tom Team" in escalation
    client.force_login(alice_manager)
    provider = client.get("/organisations/northwind/").content.decode()
    assert "Alice" in provider.split('id="signatories-heading"')[1].split("escalation-heading")[0]


def test_a_globex_user_never_sees_acmes_people(client, other_org_viewer, carol_customer):
    client.force_login(other_org_viewer)
    assert client.get("/organisations/acme/").status_code == 404
    listing = client.get("/organisations/").content.decode()
    assert "Acme" not in listing and "carol_customer" not in listing
    assert "carol_customer" not in client.get("/organisations/globex/").content.decode()


def test_provider_staff_see_every_organisation_but_only_admins_manage(
    client, alice_manager, tom_team, acme, globex
):
    for user in (alice_manager, tom_team):
        client.force_login(user)
        assert client.get("/organisations/globex/").status_code == 200
        assert "Invite a person" not in client.get("/organisations/acme/").content.decode()
        assert client.get("/organisations/acme/invite/").status_code == 403
        assert client.get("/organisations/new/").status_code == 403


# --- Who may manage ------------------------------------------------------------------------------


@pytest.mark.parametrize("actor", ["victor_viewer", "carol_customer", "tom_team", "alice_manager"])
def test_only_provider_admins_invite(client, request, actor, acme, ada_admin):
    user = request.getfixturevalue(actor)
    client.force_login(user)
    response = invite(client, "acme", "nina@acme.example", Role.CUSTOMER_VIEWER)
    assert response.status_code == 403
    assert not User.objects.filter(email="nina@acme.example").exists()
    with pytest.raises(PermissionDenied):
        services.user_invite(
            actor=user, organisation=acme, email="nina@acme.example", role="customer_viewer"
        )


def test_a_customer_cannot_deactivate_or_change_roles(client, carol_customer, victor_viewer):
    client.force_login(carol_customer)
    assert client.post(f"/people/{victor_viewer.pk}/deactivate/").status_code == 403
    assert (
        client.post(f"/people/{victor_viewer.pk}/role/", {"role": "customer_approver"}).status_code
        == 403
    )
    victor_viewer.refresh_from_db()
    assert victor_viewer.is_active and victor_viewer.role == Role.CUSTOMER_VIEWER


# --- Inviting ------------------------------------------------------------------------------------


def test_admin_invites_a_person_who_sets_a_password_from_the_email(
    client, ada_admin, acme, smtp_server, django_capture_on_commit_callbacks
):
    client.force_login(ada_admin)
    form = client.get("/organisations/acme/invite/").content.decode()
    assert "Customer approver" in form and "Service manager" not in form  # customer roles only
    response = invite(client, "acme", "Nina.New@Acme.example", Role.CUSTOMER_APPROVER)
    assert response.status_code == 302 and response["Location"] == "/organisations/acme/"
    nina = User.objects.get(email="nina.new@acme.example")
    assert nina.username == "nina.new@acme.example" and nina.organisation == acme
    assert nina.role == Role.CUSTOMER_APPROVER and nina.is_active
    assert not nina.has_usable_password()
    assert deliver_due() == 1
    [mail] = smtp_server.messages
    assert mail["To"] == "nina.new@acme.example"
    assert "Ada Admin invited you" in str(mail["Subject"])
    text = mail.get_body(("plain",)).get_content()
    link = invitation_link(text)
    assert "nina.new@acme.example" in text  # the username
    # The link lands on the set-password page.
    client.logout()
    page = client.get(link, follow=True)
    assert "Welcome to SLA Portal" in page.content.decode()
    form_url = page.redirect_chain[-1][0]
    done = client.post(
        form_url, {"new_password1": "a-Long-new-pass-42", "new_password2": "a-Long-new-pass-42"}
    )
    assert done.status_code == 302 and done["Location"] == "/accounts/login/"
    assert authenticate(username="nina.new@acme.example", password="a-Long-new-pass-42")
    # The link works once.
    again = client.get(link, follow=True).content.decode()
    assert "no longer works" in again
    actions = list(
        AccountEvent.objects.filter(subject=nina).order_by("at").values_list("action", flat=True)
    )
    assert actions == ["invited", "password_set"]


def test_invitation_refuses_a_taken_email_and_a_role_of_the_other_side(
    client, ada_admin, carol_customer
):
    client.force_login(ada_admin)
    taken = invite(client, "acme", carol_customer.email.upper(), Role.CUSTOMER_VIEWER)
    assert taken.status_code == 200 and "already has an account" in taken.content.decode()
    wrong = invite(client, "acme", "x@acme.example", Role.SERVICE_MANAGER)
    assert wrong.status_code == 200 and "Select a valid choice" in wrong.content.decode()
    assert not User.objects.filter(email="x@acme.example").exists()


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"email": "", "role": ""},
        {"email": "not-an-email", "role": "customer_viewer", "first_name": "N"},
        {"email": "a@b.example", "role": "emperor", "first_name": "N"},
        {"email": "a" * 500 + "@b.example", "role": "customer_viewer", "first_name": "x" * 999},
    ],
)
def test_the_invite_form_answers_bad_input_with_a_message_not_a_500(client, ada_admin, acme, data):
    client.force_login(ada_admin)
    response = client.post("/organisations/acme/invite/", data)
    assert response.status_code == 200
    assert "invalid-feedback" in response.content.decode() or "alert" in response.content.decode()


def test_a_deactivated_invitees_link_does_not_work(client, ada_admin, acme):
    nina = services.user_invite(
        actor=ada_admin, organisation=acme, email="nina@acme.example", role="customer_viewer"
    )
    link = invitation_link(Notification.objects.get(user=nina).body_text)
    services.user_deactivate(actor=ada_admin, user=nina)
    assert "no longer works" in client.get(link, follow=True).content.decode()


def test_admin_creates_a_customer_organisation(client, ada_admin, provider_org):
    client.force_login(ada_admin)
    response = client.post(
        "/organisations/new/", {"name": "  Initech  Ltd ", "contact_email": "it@initech.example"}
    )
    org = Organisation.objects.get(name="Initech Ltd")
    assert response["Location"] == f"/organisations/{org.slug}/"
    assert org.kind == Organisation.Kind.CUSTOMER and org.slug == "initech-ltd"
    duplicate = client.post("/organisations/new/", {"name": "initech ltd"})
    assert "already exists" in duplicate.content.decode()
    assert client.post("/organisations/new/", {"name": "New"}).status_code == 302
    assert Organisation.objects.get(name="New").slug == "new-2"  # "new" is the form's path
    assert AccountEvent.objects.filter(action="organisation_created").count() == 2


# --- Roles and deactivation -----------------------------------------------------------------------


def test_admin_changes_a_role(client, ada_admin, victor_viewer):
    client.force_login(ada_admin)
    client.post(f"/people/{victor_viewer.pk}/role/", {"role": Role.CUSTOMER_APPROVER})
    victor_viewer.refresh_from_db()
    assert victor_viewer.role == Role.CUSTOMER_APPROVER
    event = AccountEvent.objects.get(action="role_changed")
    assert (event.before, event.after, event.actor) == (
        "customer_viewer",
        "customer_approver",
        ada_admin,
    )
    # A provider role does not fit a customer.
    response = client.post(
        f"/people/{victor_viewer.pk}/role/", {"role": Role.PROVIDER_ADMIN}, follow=True
    )
    assert "Choose one of the roles offered" in response.content.decode()
    victor_viewer.refresh_from_db()
    assert victor_viewer.role == Role.CUSTOMER_APPROVER and not victor_viewer.is_superuser


def test_a_demoted_admin_loses_the_admin_site(ada_admin, provider_org):
    other = make_user("otto_admin", provider_org, Role.PROVIDER_ADMIN)
    assert other.is_superuser
    services.user_role_change(actor=ada_admin, user=other, role=Role.PROVIDER_TEAM)
    other.refresh_from_db()
    assert not other.is_superuser and not other.is_staff and other.is_provider


def test_deactivated_users_cannot_log_in_and_can_be_reactivated(client, ada_admin, victor_viewer):
    client.force_login(ada_admin)
    response = client.post(f"/people/{victor_viewer.pk}/deactivate/", follow=True)
    assert "can no longer log in" in response.content.decode()
    victor_viewer.refresh_from_db()
    assert not victor_viewer.is_active
    assert authenticate(username="victor_viewer", password=PASSWORD) is None
    client.logout()
    login = client.post("/accounts/login/", {"username": "victor_viewer", "password": PASSWORD})
    assert login.status_code == 200  # the form again, with its error
    client.force_login(ada_admin)
    client.post(f"/people/{victor_viewer.pk}/reactivate/")
    assert authenticate(username="victor_viewer", password=PASSWORD) is not None
    actions = set(AccountEvent.objects.values_list("action", flat=True))
    assert {"deactivated", "reactivated"} <= actions


def test_a_deactivated_users_open_session_ends(client, ada_admin, victor_viewer):
    client.force_login(victor_viewer)
    assert client.get("/").status_code == 200
    services.user_deactivate(actor=ada_admin, user=victor_viewer)
    assert client.get("/").status_code == 302


def test_nobody_deactivates_themselves_nor_the_last_admin(client, ada_admin, provider_org):
    client.force_login(ada_admin)
    response = client.post(f"/people/{ada_admin.pk}/deactivate/", follow=True)
    assert "cannot deactivate yourself" in response.content.decode()
    ada_admin.refresh_from_db()
    assert ada_admin.is_active
    # Another admin cannot take the last active admin out either, nor demote them.
    other = make_user("otto_admin", provider_org, Role.PROVIDER_ADMIN)
    services.user_deactivate(actor=ada_admin, user=other)
    other.refresh_from_db()
    with pytest.raises(PermissionDenied):  # a deactivated admin manages nothing
        services.user_deactivate(actor=other, user=ada_admin)
    with pytest.raises(ValidationError, match="at least one active provider admin"):
        services.user_role_change(actor=ada_admin, user=ada_admin, role=Role.PROVIDER_TEAM)
    services.user_reactivate(actor=ada_admin, user=other)
    other.refresh_from_db()
    services.user_deactivate(actor=other, user=ada_admin)  # now there is another admin
    ada_admin.refresh_from_db()
    assert not ada_admin.is_active
    with pytest.raises(ValidationError, match="at least one active provider admin"):
        services.user_role_change(actor=other, user=other, role=Role.SERVICE_MANAGER)


def test_the_admin_sees_account_changes_on_the_organisation_page(client, ada_admin, victor_viewer):
    services.user_deactivate(actor=ada_admin, user=victor_viewer)
    client.force_login(ada_admin)
    body = client.get("/organisations/acme/").content.decode()
    assert "Ada Admin deactivated Victor Viewer." in body
    assert "Reactivate" in body


def test_organisation_page_costs_a_fixed_number_of_queries(
    client, ada_admin, acme, django_assert_max_num_queries
):
    for n in range(15):
        make_user(f"person_{n}", acme, Role.CUSTOMER_VIEWER)
    client.force_login(ada_admin)
    client.get("/organisations/acme/")
    with django_assert_max_num_queries(10):
        assert client.get("/organisations/acme/").status_code == 200


def test_an_account_without_an_organisation_is_not_managed_here(client, ada_admin):
    root = User.objects.create_superuser("root", "root@example.com", "x-pass-1234567")
    client.force_login(ada_admin)
    assert client.post(f"/people/{root.pk}/deactivate/").status_code == 404
    assert client.post(f"/people/{root.pk}/role/", {"role": "provider_team"}).status_code == 404
    root.refresh_from_db()
    assert root.is_active


# --- No input answers 500 -------------------------------------------------------------------------

ABSURD = st.one_of(
    st.just(""),
    st.text(max_size=400),
    st.sampled_from(["provider_admin", "customer_viewer", "emperor", "a@b", "@", "x" * 300]),
    st.emails(),
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    invite_data=st.dictionaries(
        st.sampled_from(["first_name", "last_name", "email", "role", "job_title"]), ABSURD
    ),
    org_data=st.dictionaries(st.sampled_from(["name", "contact_email"]), ABSURD),
    role=ABSURD,
)
def test_people_forms_answer_any_input_without_a_500(
    client, ada_admin, acme, victor_viewer, invite_data, org_data, role
):
    client.force_login(ada_admin)
    for url, data in (
        ("/organisations/acme/invite/", invite_data),
        ("/organisations/new/", org_data),
        (f"/people/{victor_viewer.pk}/role/", {"role": role}),
    ):
        response = client.post(url, data)
        assert response.status_code in (200, 302), (url, data, response.status_code)


def test_a_new_invitation_link_can_be_sent_until_the_password_is_set(
    client, ada_admin, acme, smtp_server
):
    nina = services.user_invite(
        actor=ada_admin, organisation=acme, email="nina@acme.example", role="customer_viewer"
    )
    client.force_login(ada_admin)
    page = client.get("/organisations/acme/").content.decode()
    assert "Resend invitation" in page and "Invited, no password yet" in page
    response = client.post(f"/people/{nina.pk}/invitation/", follow=True)
    assert "A new invitation link was sent to nina@acme.example" in response.content.decode()
    assert Notification.objects.filter(user=nina, kind="account.invitation").count() == 2
    assert deliver_due() == 2
    nina.set_password("chosen-Pass-2026")
    nina.save()
    refused = client.post(f"/people/{nina.pk}/invitation/", follow=True).content.decode()
    assert "has already set a password" in refused
    assert Notification.objects.filter(user=nina, kind="account.invitation").count() == 2
    assert "AccountEvent" not in refused  # no model names in messages
    assert client.get("/admin/core/accountevent/").status_code == 200
