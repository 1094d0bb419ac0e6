"""API tokens: a person's own tokens (create, list, revoke) and, for people managers, the
tokens of someone they manage."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from sla_portal.core.forms import TokenForm
from sla_portal.core.models import ApiToken, User
from sla_portal.core.selectors import people_visible_to
from sla_portal.core.tokens import allowed_scopes, token_create, token_revoke, tokens_visible_to

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
