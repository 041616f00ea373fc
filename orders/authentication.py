"""API authentication: per-channel API keys for storefronts and B2B portals.

Staff authenticate with sessions or DRF tokens; a sales channel sends
``Authorization: Api-Key <key>``. Keys are stored hashed (SHA-256 of a 256-bit random secret: a
slow hash adds nothing for keys of that entropy and would cost every order request).
"""

from __future__ import annotations

from rest_framework import authentication, exceptions

from core.api import ChannelPrincipal
from core.throttling import bad_api_key_guard

from .selectors import api_key_lookup
from .services import api_key_mark_used


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
        bad_api_key_guard.check(request)  # an address that keeps guessing keys gets 429, not more guesses
        api_key = api_key_lookup(raw_key=raw_key)
        if api_key is None:
            bad_api_key_guard.record_failure(request)
            raise exceptions.AuthenticationFailed("Invalid or revoked API key.")
        api_key_mark_used(api_key=api_key)
        return ChannelPrincipal(channel=api_key.channel), api_key

    def authenticate_header(self, request):
        return self.keyword
