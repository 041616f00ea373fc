"""The web side of errors, and the base classes every app's API shares.

One error shape for the whole API: RFC 9457 problem details. Domain errors (``core.errors``) carry a stable
snake_case ``code``; the handler below turns them, DRF's own exceptions and Django's ``ValidationError`` into
``application/problem+json`` responses. Anything else is a bug and is left to propagate (tests must see it).

Also here: the channel principal that stands in for ``request.user`` when a sales channel calls, the permission
classes and the JSON parser (the pagination every list uses: ``core.pagination``).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import InterfaceError, OperationalError
from django.http import Http404
from rest_framework import exceptions as drf_exceptions
from rest_framework import parsers, permissions, serializers, status
from rest_framework.exceptions import ParseError
from rest_framework.response import Response

from .errors import DomainError
from .permissions import SAFE_METHODS, missing_permissions, permission_denied_message

PROBLEM_CONTENT_TYPE = "application/problem+json"


_DRF_CODES = {
    drf_exceptions.ParseError: ("malformed_request", "Malformed request"),
    drf_exceptions.AuthenticationFailed: ("authentication_failed", "Authentication failed"),
    drf_exceptions.NotAuthenticated: ("not_authenticated", "Authentication required"),
    drf_exceptions.PermissionDenied: ("permission_denied", "Permission denied"),
    drf_exceptions.NotFound: ("not_found", "Not found"),
    drf_exceptions.MethodNotAllowed: ("method_not_allowed", "Method not allowed"),
    drf_exceptions.NotAcceptable: ("not_acceptable", "Not acceptable"),
    drf_exceptions.UnsupportedMediaType: ("unsupported_media_type", "Unsupported media type"),
    drf_exceptions.Throttled: ("throttled", "Too many requests"),
}


def problem_response(
    *,
    status_code: int,
    code: str,
    title: str,
    detail: str,
    errors: Any = None,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body: dict[str, Any] = {
        "type": f"https://oms.example.com/problems/{code.replace('_', '-')}",
        "title": title,
        "status": status_code,
        "detail": detail,
        "code": code,
    }
    if errors:
        body["errors"] = errors
    if extra:
        body.update(extra)
    return Response(body, status=status_code, headers=headers, content_type=PROBLEM_CONTENT_TYPE)


def _first_message(errors: Any) -> str:
    if isinstance(errors, dict):
        for key, value in errors.items():
            message = _first_message(value)
            if message:
                return message if key in ("non_field_errors", "__all__") else f"{key}: {message}"
    if isinstance(errors, list):
        for value in errors:
            message = _first_message(value)
            if message:
                return message
    if errors:
        return str(errors)
    return ""


# How long a client should wait before retrying when the database cannot be reached (a restart, a failover).
SERVICE_UNAVAILABLE_RETRY_AFTER = 5


def service_unavailable_problem() -> dict[str, Any]:
    return {
        "status_code": status.HTTP_503_SERVICE_UNAVAILABLE,
        "code": "service_unavailable",
        "title": "Service unavailable",
        "detail": "The service cannot reach its database right now; nothing was changed. Retry shortly.",
        "headers": {"Retry-After": str(SERVICE_UNAVAILABLE_RETRY_AFTER)},
    }


def problem_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, (OperationalError, InterfaceError)):
        # The database is unreachable or went away mid-request (a restart, a failover, a dropped connection):
        # the request's transaction is rolled back, so this is "try again", not a bug.
        return problem_response(**service_unavailable_problem())
    if isinstance(exc, DomainError):
        return problem_response(
            status_code=int(exc.status),
            code=exc.code,
            title=exc.title,
            detail=exc.message,
            extra={"details": exc.details} if exc.details else None,
        )
    if isinstance(exc, DjangoValidationError):
        errors = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        exc = drf_exceptions.ValidationError(errors)
    if isinstance(exc, Http404):
        exc = drf_exceptions.NotFound()
    if isinstance(exc, DjangoPermissionDenied):
        exc = drf_exceptions.PermissionDenied()

    if isinstance(exc, drf_exceptions.ValidationError):
        errors = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        return problem_response(
            status_code=status.HTTP_400_BAD_REQUEST,
            code="validation_error",
            title="Invalid input",
            detail=_first_message(errors) or "The request body is not valid.",
            errors=errors,
        )
    if isinstance(exc, drf_exceptions.APIException):
        code, title = "error", "Error"
        for klass, (klass_code, klass_title) in _DRF_CODES.items():
            if isinstance(exc, klass):
                code, title = klass_code, klass_title
                break
        headers = {}
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
        if getattr(exc, "wait", None):
            headers["Retry-After"] = str(int(exc.wait))
        status_code = exc.status_code
        # DRF answers 403 to anonymous requests when no authenticator offers a challenge; ours always do.
        return problem_response(
            status_code=status_code,
            code=code,
            title=title,
            detail=str(exc.detail),
            headers=headers or None,
        )
    return None


def _problem_json(request, *, status_code: int, code: str, title: str, detail: str):
    from django.http import JsonResponse

    body = {
        "type": f"https://oms.example.com/problems/{code.replace('_', '-')}",
        "title": title,
        "status": status_code,
        "detail": detail,
        "code": code,
    }
    return JsonResponse(body, status=status_code, content_type=PROBLEM_CONTENT_TYPE)


def api_aware_404(request, exception=None):
    """Django's 404 handler: problem+json under /api/ (an unknown API URL), the usual page elsewhere."""
    if request.path.startswith("/api/"):
        return _problem_json(
            request, status_code=404, code="not_found", title="Not found", detail="No API endpoint at this URL."
        )
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)


def api_aware_500(request):
    """Django's 500 handler (DEBUG off): problem+json under /api/. The bug itself is logged by Django."""
    if request.path.startswith("/api/"):
        return _problem_json(
            request, status_code=500, code="internal_error", title="Internal error", detail="Something went wrong."
        )
    from django.views.defaults import server_error

    return server_error(request)


# --- who is calling ---------------------------------------------------------------------------


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


def request_channel(request):
    """The sales channel behind a request, or None for staff."""
    user = getattr(request, "user", None)
    return user.channel if isinstance(user, ChannelPrincipal) else None


class StaffPermission(permissions.BasePermission):
    """Who may call: staff, and sales channels where the view allows them; staff writes need Django permissions.

    A view declares what each method needs::

        required_permissions = {"POST": ["orders.ship_order"]}

    A staff request whose method is listed needs every permission listed (core/roles.py grants them; superusers
    have them all). Reads (GET, HEAD, OPTIONS) not listed need nothing beyond being staff. A write not listed is
    refused to all but superusers, so a new endpoint cannot be left open by mistake. A channel is never judged
    by staff permissions: it passes when ``channels_allowed`` and the view limits it to its own data.
    """

    message = "This endpoint is for staff only."
    channels_allowed = False

    def has_permission(self, request, view):
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if isinstance(user, ChannelPrincipal):
            return self.channels_allowed
        if not user.is_staff:
            return False
        required = getattr(view, "required_permissions", {}).get(request.method)
        if required is None:
            # A method the view does not implement is left to DRF's 405.
            if request.method in SAFE_METHODS or user.is_superuser or not hasattr(view, request.method.lower()):
                return True
            raise drf_exceptions.PermissionDenied("This action declares no permission; only superusers may use it.")
        missing = missing_permissions(user, required)
        if missing:
            raise drf_exceptions.PermissionDenied(permission_denied_message(missing))
        return True


class IsStaff(StaffPermission):
    """Staff only (with the permissions the view declares for writes)."""


class IsChannelOrStaff(StaffPermission):
    """A sales channel (its own data), or staff with the permissions the view declares for writes."""

    message = "Authenticate with a channel API key or as staff."
    channels_allowed = True


# Right-to-left/left-to-right embeddings, overrides and isolates: they make a name display as something else.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def has_unsafe_characters(value: str) -> bool:
    """Control characters (newlines, tabs, NUL …) or bidirectional overrides: never part of a name."""
    return any(unicodedata.category(char) == "Cc" or char in _BIDI_CONTROLS for char in value)


_WHOLE_NUMBER = "A whole number is required (a JSON integer: no quotes, no decimals)."
_STRING = "A string is required (a JSON string, in quotes)."
_DECIMAL = 'A decimal string is required (for example "4.50"): a JSON number could lose precision.'
_BOOLEAN = "true or false is required (a JSON boolean)."


def _json_type_error(field: serializers.Field, value: Any) -> str | None:
    """Why ``value`` is not the JSON type ``field`` takes (None when it is): nothing is coerced."""
    if value is None:
        return None  # allow_null decides
    if isinstance(field, serializers.BooleanField):
        return None if isinstance(value, bool) else _BOOLEAN
    if isinstance(field, serializers.IntegerField):
        return None if isinstance(value, int) and not isinstance(value, bool) else _WHOLE_NUMBER
    if isinstance(field, serializers.DecimalField):
        return None if isinstance(value, str) else _DECIMAL
    if isinstance(field, (serializers.CharField, serializers.DateField, serializers.DateTimeField)):
        return None if isinstance(value, str) else _STRING
    return None


class NonZeroIntegerField(serializers.IntegerField):
    """A whole number other than 0 (a stock adjustment's change). The schema says so: ``not: {enum: [0]}``."""

    default_error_messages = {"zero": "Must not be 0."}

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if value == 0:
            self.fail("zero")
        return value


class StrictSerializer(serializers.Serializer):
    """Refuses unknown keys (a misspelt field must not be silently ignored), non-object bodies, values of the wrong
    JSON type (whole numbers must be JSON integers: ``2.0``, ``"2"`` and ``true`` are refused, not coerced;
    strings, dates and decimals must be JSON strings; booleans JSON booleans), and names (``name``, ``*_name``)
    with control characters or bidirectional overrides. config/openapi.py states each rule in the schema."""

    def to_internal_value(self, data):
        refused: dict[str, list[str]] = {}
        if isinstance(data, dict):
            unknown = sorted(str(key)[:50] for key in set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({key: ["Unknown field."] for key in unknown})
            for name, field in self.fields.items():
                if field.read_only or name not in data:
                    continue
                message = _json_type_error(field, data[name])
                if message is None and (
                    isinstance(field, serializers.CharField)
                    and (name == "name" or name.endswith("_name"))
                    and isinstance(data[name], str)
                    and has_unsafe_characters(data[name])
                ):
                    message = "Names may not contain control characters or bidirectional overrides."
                if message:
                    refused[name] = [message]
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            # Every field's problem in one answer: the others' (missing, out of range) and the wrong JSON types.
            if refused and isinstance(exc.detail, dict):
                raise serializers.ValidationError({**exc.detail, **refused}) from exc
            raise
        if refused:
            raise serializers.ValidationError(refused)
        return value


# --- parsing -----------------------------------------------------------------------


class JSONParser(parsers.JSONParser):
    """DRF's JSONParser lets a RecursionError (deeply nested JSON) escape as a 500; this answers 400."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type=media_type, parser_context=parser_context)
        except RecursionError as exc:
            raise ParseError("JSON parse error - the document is nested too deeply.") from exc
