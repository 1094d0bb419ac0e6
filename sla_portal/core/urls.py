from django.urls import path

from sla_portal.core.views import people, tokens

app_name = "core"

# The organisation page itself is ``organisation`` (sla_portal/urls.py): it reads every app.
urlpatterns = [
    path("organisations/", people.organisation_list, name="organisation-list"),
    path("organisations/new/", people.organisation_create, name="organisation-create"),
    path("organisations/<slug:slug>/invite/", people.user_invite, name="invite"),
    path("people/<int:pk>/role/", people.user_role, name="user-role"),
    path("people/<int:pk>/deactivate/", people.user_deactivate, name="user-deactivate"),
    path("people/<int:pk>/reactivate/", people.user_reactivate, name="user-reactivate"),
    path("people/<int:pk>/invitation/", people.invitation_resend, name="invitation-resend"),
    path("people/<int:pk>/tokens/", tokens.person_tokens, name="person-tokens"),
    path("account/tokens/", tokens.token_list, name="tokens"),
    path("account/tokens/<int:pk>/revoke/", tokens.token_revoke_view, name="token-revoke"),
    path(
        "accounts/invitation/<uidb64>/<token>/",
        people.InvitationSetPasswordView.as_view(),
        name="invitation",
    ),
]
