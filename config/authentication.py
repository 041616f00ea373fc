"""API authentication: per-channel API keys for storefronts and B2B portals.

Staff authenticate with sessions or DRF tokens; a sales channel sends
``Authorization: Api-Key <key>``. Keys are stored hashed (SHA-256 of a 256-bit random secret: a
slow hash adds nothing for keys of that entropy and would cost every order request).
"""

from __future__ import annotations

from dataclasses import dataclass

from rest_framework import authentication, exceptions, permissions


@dataclass(frozen=True)
class ChannelPrincipal:
    """Stands in for ``request.user`` when a sales channel calls with its API key."""

    channel: object
    is_authenticated: bool = True
    is_staff: bool = False
    is_superuser: bool = False
    is_active: bool = True
    is_anonymous: bool = False

    @property
    def pk(self):  # used by DRF throttling and logging
        return f"channel:{self.channel.pk}"

    @property
    def username(self) -> str:
        return f"channel:{self.channel.code}"

    def __str__(self) -> str:
        return self.username


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Api-Key"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Invalid Api-Key header: expected 'Api-Key <key>'.")
        try:
            raw_key = header[1].decode()
        except UnicodeError as exc:
            raise exceptions.AuthenticationFailed("Invalid API key.") from exc

        from orders.selectors import api_key_lookup
        from orders.services import api_key_mark_used

        api_key = api_key_lookup(raw_key=raw_key)
        if api_key is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked API key.")
        api_key_mark_used(api_key=api_key)
        return ChannelPrincipal(channel=api_key.channel), api_key

    def authenticate_header(self, request):
        return self.keyword


def request_channel(request):
    """The sales channel behind a request, or None for staff."""
    user = getattr(request, "user", None)
    return user.channel if isinstance(user, ChannelPrincipal) else None


class IsStaff(permissions.BasePermission):
    message = "This endpoint is for staff only."

    def has_permission(self, request, view):
        user = request.user
        return bool(user and user.is_authenticated and user.is_staff)


class IsChannelOrStaff(permissions.BasePermission):
    message = "Authenticate with a channel API key or as staff."

    def has_permission(self, request, view):
        user = request.user
        return bool(user and user.is_authenticated and (user.is_staff or isinstance(user, ChannelPrincipal)))
