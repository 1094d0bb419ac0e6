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
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse, reverse_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from sla_portal.core import services
from sla_portal.core.forms import InviteForm, OrganisationForm, RoleForm, TokenForm
from sla_portal.core.health import cached_health_report
from sla_portal.core.models import ApiToken, User
from sla_portal.core.selectors import organisations_visible_to, people_visible_to
from sla_portal.core.tokens import allowed_scopes, token_create, token_revoke, tokens_visible_to


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


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Each part's health as JSON: 200 when every required part is healthy, else 503.

    Anyone may ask; only provider staff (and the Django admin) see the details.
    """
    details = _sees_health_details(request)
    try:
        report = cached_health_report(details=details)
    except Exception as exc:  # health_report guards each check; this is the last resort
        report = {"ok": False, "failing": ["health"]}
        if details:
            report["error"] = f"{type(exc).__name__}: {exc}"
    return JsonResponse(report, status=200 if report["ok"] else 503)


def _sees_health_details(request: HttpRequest) -> bool:
    """Provider staff or a Django admin signed in; False when that cannot be told.

    Asking loads the session, and with it the database: when that fails (the outage the probe
    is asking about), the caller is treated as anonymous, here and in the middleware after.
    """
    try:
        user = request.user
        return bool(
            user.is_authenticated and (user.is_provider or user.is_staff or user.is_superuser)
        )
    except Exception:
        request.user = AnonymousUser()
        return False


# --- API tokens ------------------------------------------------------------------------------

# The new key travels to the next page in the creator's session and is removed as it is shown.
TOKEN_SESSION_KEY = "api_token_once"


def _scope_choices(user: User) -> list[tuple[str, str]]:
    return [(scope, ApiToken.Scope(scope).label) for scope in allowed_scopes(user)]


def _token_page(request: HttpRequest, owner: User, form=None) -> HttpResponse:
    tokens = tokens_visible_to(request.user, owner)
    if tokens is None:
        raise PermissionDenied("Only the token's owner and the provider's admins see tokens.")
    own = owner.pk == request.user.pk
    kept = request.session.pop(TOKEN_SESSION_KEY, None) if own else None
    if form is None and own:
        form = TokenForm(scopes=_scope_choices(owner), initial={"scopes": ["read"]})
    return render(
        request,
        "core/tokens.html",
        {
            "owner": owner,
            "own": own,
            "tokens": tokens,
            "new_key": kept,
            "form": form,
        },
    )


@login_required
@never_cache
def token_list(request: HttpRequest) -> HttpResponse:
    """The signed-in user's API tokens: create one (its key shown once), revoke any."""
    if request.method == "POST":
        form = TokenForm(request.POST, scopes=_scope_choices(request.user))
        if form.is_valid():
            token, key = token_create(
                request.user, name=form.cleaned_data["name"], scopes=form.cleaned_data["scopes"]
            )
            request.session[TOKEN_SESSION_KEY] = key
            messages.success(request, f"Created the API token “{token.name}”.")
            return redirect("core:tokens")
        return _token_page(request, request.user, form)
    return _token_page(request, request.user)


@login_required
@require_GET
def person_tokens(request: HttpRequest, pk: int) -> HttpResponse:
    """A person's API tokens, for the provider's admins (who may revoke them)."""
    owner = get_object_or_404(people_visible_to(request.user), pk=pk)
    return _token_page(request, owner)


@login_required
@require_POST
def token_revoke_view(request: HttpRequest, pk: int) -> HttpResponse:
    token = get_object_or_404(ApiToken.objects.select_related("user"), pk=pk)
    if tokens_visible_to(request.user, token.user) is None:
        raise PermissionDenied("Only the token's owner and the provider's admins revoke tokens.")
    token_revoke(token, by=request.user)
    messages.success(request, f"Revoked the API token “{token.name}”; it no longer works.")
    if token.user_id == request.user.pk:
        return redirect("core:tokens")
    return redirect("core:person-tokens", pk=token.user_id)
