from django.urls import path

from sla_portal.core.views import people as views

app_name = "core"

# The organisation page itself is ``organisation`` (sla_portal/urls.py): it reads every app.
urlpatterns = [
    path("organisations/", views.organisation_list, name="organisation-list"),
    path("organisations/new/", views.organisation_create, name="organisation-create"),
    path("organisations/<slug:slug>/invite/", views.user_invite, name="invite"),
    path("people/<int:pk>/role/", views.user_role, name="user-role"),
    path("people/<int:pk>/deactivate/", views.user_deactivate, name="user-deactivate"),
    path("people/<int:pk>/reactivate/", views.user_reactivate, name="user-reactivate"),
    path("people/<int:pk>/invitation/", views.invitation_resend, name="invitation-resend"),
    path("people/<int:pk>/tokens/", views.person_tokens, name="person-tokens"),
    path("account/tokens/", views.token_list, name="tokens"),
    path("account/tokens/<int:pk>/revoke/", views.token_revoke_view, name="token-revoke"),
    path(
        "accounts/invitation/<uidb64>/<token>/",
        views.InvitationSetPasswordView.as_view(),
        name="invitation",
    ),
]
