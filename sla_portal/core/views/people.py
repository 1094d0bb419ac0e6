"""Organisation and people pages: the list, new customer organisations, invitations, roles,
deactivation, and the set-password page an invitation links to.

The organisation page itself (people with their signatory and escalation roles) reads the
agreements and monitoring apps, so its view lives in ``reporting.views.people``.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse, reverse_lazy
from django.views.decorators.http import require_POST

from sla_portal.core import services
from sla_portal.core.forms import InviteForm, OrganisationForm, RoleForm
from sla_portal.core.models import User
from sla_portal.core.selectors import organisations_visible_to, people_visible_to


def _require_people_manager(request: HttpRequest) -> None:
    if not services.can_manage_people(request.user):
        raise PermissionDenied("Only the provider's admins manage organisations and people.")


def _apply_errors(form, error: ValidationError) -> None:
    if hasattr(error, "error_dict"):
        for field, errors in error.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error.messages)


def _organisation_page(user: User) -> str:
    return reverse("organisation", args=[user.organisation.slug])


@login_required
def organisation_list(request: HttpRequest) -> HttpResponse:
    organisations = organisations_visible_to(request.user)
    return render(
        request,
        "core/organisation_list.html",
        {
            "organisations": organisations,
            "can_manage": services.can_manage_people(request.user),
        },
    )


@login_required
def organisation_create(request: HttpRequest) -> HttpResponse:
    _require_people_manager(request)
    form = OrganisationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            organisation = services.organisation_create(actor=request.user, **form.cleaned_data)
        except ValidationError as error:
            _apply_errors(form, error)
        else:
            messages.success(
                request, f"{organisation.name} was created. Invite its people from this page."
            )
            return redirect("organisation", slug=organisation.slug)
    return render(request, "core/organisation_form.html", {"form": form})


@login_required
def user_invite(request: HttpRequest, slug: str) -> HttpResponse:
    _require_people_manager(request)
    organisation = get_object_or_404(organisations_visible_to(request.user), slug=slug)
    form = InviteForm(request.POST or None, organisation=organisation)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.user_invite(
                actor=request.user, organisation=organisation, **form.cleaned_data
            )
        except ValidationError as error:
            _apply_errors(form, error)
        else:
            messages.success(
                request,
                f"Invitation sent to {user.email}: {user.display_name} chooses a password from "
                "the link in it, then logs in.",
            )
            return redirect("organisation", slug=organisation.slug)
    return render(
        request,
        "core/invite_form.html",
        {
            "form": form,
            "organisation": organisation,
            "valid_days": max(1, settings.PASSWORD_RESET_TIMEOUT // 86400),
        },
    )


def _person(request: HttpRequest, pk: int) -> User:
    _require_people_manager(request)
    # Accounts without an organisation (a superuser made with createsuperuser) are managed
    # in the Django admin: these pages, their events and their redirects need one.
    members = people_visible_to(request.user).filter(organisation__isnull=False)
    return get_object_or_404(members, pk=pk)


@login_required
@require_POST
def user_role(request: HttpRequest, pk: int) -> HttpResponse:
    person = _person(request, pk)
    form = RoleForm(request.POST, organisation=person.organisation)
    if not form.is_valid():
        messages.error(request, "Choose one of the roles offered.")
        return redirect(_organisation_page(person))
    try:
        person = services.user_role_change(
            actor=request.user, user=person, role=form.cleaned_data["role"]
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        role = person.get_role_display().lower()
        messages.success(request, f"{person.display_name} is now {role}.")
    return redirect(_organisation_page(person))


@login_required
@require_POST
def user_deactivate(request: HttpRequest, pk: int) -> HttpResponse:
    person = _person(request, pk)
    try:
        services.user_deactivate(actor=request.user, user=person)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"{person.display_name} is deactivated and can no longer log in.")
    return redirect(_organisation_page(person))


@login_required
@require_POST
def user_reactivate(request: HttpRequest, pk: int) -> HttpResponse:
    person = _person(request, pk)
    services.user_reactivate(actor=request.user, user=person)
    messages.success(request, f"{person.display_name} can log in again.")
    return redirect(_organisation_page(person))


@login_required
@require_POST
def invitation_resend(request: HttpRequest, pk: int) -> HttpResponse:
    person = _person(request, pk)
    try:
        services.invitation_resend(actor=request.user, user=person)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"A new invitation link was sent to {person.email}.")
    return redirect(_organisation_page(person))


class InvitationSetPasswordView(auth_views.PasswordResetConfirmView):
    """The page an invitation links to: Django's password-reset token machinery with the
    invitation's words. A deactivated account's link does not work."""

    template_name = "registration/invitation_set_password.html"
    success_url = reverse_lazy("login")

    def get_user(self, uidb64: str):
        user = super().get_user(uidb64)
        return user if user is not None and user.is_active else None

    def form_valid(self, form):
        response = super().form_valid(form)
        services.invitation_accepted(form.user)
        messages.success(
            self.request,
            f"Your password is set. Log in with your username {form.user.username}.",
        )
        return response
