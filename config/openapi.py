"""OpenAPI (drf-spectacular) descriptions of the project's own API wiring.

The schema says exactly what the API does (checked by schemathesis in tests/config/test_schemathesis.py):

- every operation declares the error answers it may give, each an RFC 9457 ``application/problem+json`` body
  (the ``Problem`` component, rendered by ``core.api.problem_exception_handler`` and ``config.middleware``);
- a request body read by a ``core.api.StrictSerializer`` refuses unknown keys: ``additionalProperties: false``;
- names refuse control characters and bidirectional overrides: a ``pattern`` says so.

Which error statuses an operation declares (``problem_statuses``):

=====  ==============================================================================================
 400   the operation takes query parameters or a body (validation, malformed JSON, page/ordering)
 401   always: no credentials, or a bad token/API key
 403   always: a channel on a staff-only endpoint, staff without the permission (core/roles.py)
 404   a path parameter (unknown or another channel's resource), a paginated list (page past the end),
       every write (a referenced SKU, warehouse or supplier that does not exist)
 409   every write: a domain conflict (state transition, stock, duplicate, idempotency key reuse)
 413   every write: a body over DATA_UPLOAD_MAX_MEMORY_SIZE
 415   every write with a body: a content type the API does not parse
 422   every write: a business rule (date out of range, over-receipt, …)
 429   always: the caller's rate limit (``Retry-After``)
 503   always: the database cannot be reached (``Retry-After``)
=====  ==============================================================================================

A view adds statuses with ``extra_problem_statuses = {"post": [410]}`` (method in lower case).
"""

from __future__ import annotations

from django import forms
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from rest_framework import serializers

from core.api import PROBLEM_CONTENT_TYPE, IsChannelOrStaff, NonZeroIntegerField, StaffPermission, StrictSerializer

# Names (``name``, ``*_name``) refused by StrictSerializer: C0/C1 control characters, bidirectional overrides.
NAME_REFUSED = r"\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069"
# Every DRF CharField refuses NUL; one that may not be blank needs a character that is not whitespace (it trims).
TEXT_REFUSED = r"\u0000"


def text_pattern(refused: str, *, allow_blank: bool) -> str:
    if allow_blank:
        return f"^[^{refused}]*$"
    return f"^[^{refused}]*[^\\s{refused}][^{refused}]*$"


SAFE_NAME_PATTERN = text_pattern(NAME_REFUSED, allow_blank=True)

PROBLEM_DESCRIPTIONS = {
    400: "Invalid input (`validation_error` with per-field `errors`, or `malformed_request`).",
    401: "No credentials, or a token or API key that is not valid (`not_authenticated`, `authentication_failed`).",
    403: "A channel on a staff-only endpoint, or staff without the permission (`permission_denied`).",
    404: "Not found, or another channel's (`not_found`, or a domain code such as `unknown_sku`).",
    409: "The current state does not allow it (a domain conflict code).",
    410: "Gone.",
    413: "The request body is larger than the server accepts (`payload_too_large`).",
    415: "The body's content type is not JSON (`unsupported_media_type`).",
    422: "A business rule refuses the request (a domain code such as `date_out_of_range`).",
    429: "The caller's rate limit is used up (`throttled`); retry after `Retry-After` seconds.",
    503: "The database cannot be reached; nothing was changed (`service_unavailable`); retry after `Retry-After`.",
}
RETRY_AFTER_HEADER = {
    "Retry-After": {"schema": {"type": "integer", "minimum": 0}, "description": "Seconds to wait before retrying."}
}
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


class ProblemSerializer(serializers.Serializer):
    """An RFC 9457 problem detail (documentation only: core.api.problem_response writes it)."""

    type = serializers.URLField(help_text="A URI naming the kind of problem.")
    title = serializers.CharField(help_text="A short, human-readable summary of the kind of problem.")
    status = serializers.IntegerField(help_text="The HTTP status code.")
    detail = serializers.CharField(help_text="What went wrong with this request.")
    code = serializers.CharField(help_text="A stable snake_case code (`validation_error`, `insufficient_stock`, …).")
    errors = serializers.DictField(
        required=False, help_text="Per-field messages (`validation_error`): field name → list of messages."
    )
    details = serializers.DictField(required=False, help_text="Machine-readable facts about a domain error.")


def problem_statuses(operation: dict, method: str, extra: list[int] | tuple[int, ...] = ()) -> list[int]:
    """The error statuses an operation may answer with (the table in this module's docstring)."""
    parameters = operation.get("parameters", [])
    takes_query = any(p.get("in") == "query" for p in parameters)
    has_path_parameter = any(p.get("in") == "path" for p in parameters)
    has_body = "requestBody" in operation
    write = method.upper() in WRITE_METHODS
    statuses = {401, 403, 429, 503}
    if takes_query or has_body or write:
        statuses.add(400)
    if has_path_parameter or write or any(p.get("name") == "page" for p in parameters):
        statuses.add(404)
    if write:
        statuses |= {409, 413, 422}
    if has_body:
        statuses.add(415)
    statuses |= set(extra)
    return sorted(statuses)


def decimal_pattern(field: serializers.DecimalField) -> str:
    """What a DecimalField takes as a string: at least one digit, its digit limits, a sign only if it may be
    negative (drf-spectacular's own pattern also matches "" and "-")."""
    places = field.decimal_places or 0
    whole = (field.max_digits - places) if field.max_digits is not None else None
    whole_digits = f"\\d{{1,{whole}}}" if whole else ("0" if whole == 0 else "\\d+")
    sign = "" if field.min_value is not None and field.min_value >= 0 else "-?"
    if not places:
        return f"^{sign}{whole_digits}$"
    return f"^{sign}(?:{whole_digits}(?:\\.\\d{{0,{places}}})?|\\.\\d{{1,{places}}})$"


class OmsAutoSchema(AutoSchema):
    """drf-spectacular's AutoSchema with the project's error answers and request rules (module docstring)."""

    def get_operation(self, *args, **kwargs):
        operation = super().get_operation(*args, **kwargs)
        if operation is None:
            return None
        for parameter in operation.get("parameters", []):
            schema = parameter.get("schema", {})
            if schema.get("type") == "boolean":
                # django-filter's typed choices ("true"/"false") come out as string enums on a boolean.
                schema.pop("enum", None)
        self._filter_parameter_rules(operation)
        operation["x-callers"] = self._callers()
        extra = getattr(self.view, "extra_problem_statuses", {}).get(self.method.lower(), ())
        responses = operation.setdefault("responses", {})
        problem = self._get_response_for_code(ProblemSerializer, "400", media_types=[PROBLEM_CONTENT_TYPE])
        for status in problem_statuses(operation, self.method, extra):
            if str(status) in responses:
                continue
            response = {**problem, "description": PROBLEM_DESCRIPTIONS.get(status, "Error.")}
            if status in (429, 503):
                response["headers"] = RETRY_AFTER_HEADER
            responses[str(status)] = response
        return operation

    def _callers(self) -> list[str]:
        """Who may call (``x-callers``): "channel" (its API key, its own data) and/or "staff"."""
        permissions = self.view.get_permissions()
        if any(isinstance(permission, IsChannelOrStaff) for permission in permissions):
            return ["channel", "staff"]
        if any(isinstance(permission, StaffPermission) for permission in permissions):
            return ["staff"]
        return ["channel", "staff"] if permissions else []

    def _get_request_for_media_type(self, serializer, direction="request"):
        # drf-spectacular documents PATCH bodies as partial (nothing required), as DRF's generic views validate
        # them. Ours validate with the input serializer as declared (never ``partial=True``): what it requires,
        # a PATCH requires.
        if self.method != "PATCH":
            return super()._get_request_for_media_type(serializer, direction)
        self.method = "PUT"
        try:
            return super()._get_request_for_media_type(serializer, direction)
        finally:
            self.method = "PATCH"

    def _map_serializer(self, serializer, direction, bypass_extensions=False):
        schema = super()._map_serializer(serializer, direction, bypass_extensions)
        if isinstance(serializer, StrictSerializer) and serializer.__class__.__doc__ is None:
            # Not StrictSerializer's own docstring, inherited by every input that has none.
            schema.pop("description", None)
        if direction == "request" and isinstance(serializer, StrictSerializer):
            schema["additionalProperties"] = False
        return schema

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        name = field.field_name or ""
        if direction == "request" and type(field) is serializers.CharField and "pattern" not in schema:
            is_name = isinstance(field.parent, StrictSerializer) and (name == "name" or name.endswith("_name"))
            refused = NAME_REFUSED if is_name else TEXT_REFUSED
            schema["pattern"] = text_pattern(refused, allow_blank=field.allow_blank)
        if direction == "request" and isinstance(field, serializers.DecimalField) and schema.get("type") == "string":
            schema["pattern"] = decimal_pattern(field)
        if direction == "request" and isinstance(field, NonZeroIntegerField):
            schema["not"] = {"enum": [0]}
        if (
            direction == "request"
            and isinstance(field, (serializers.ListSerializer, serializers.ListField))
            and not field.allow_empty
            and schema.get("type") == "array"
        ):
            schema["minItems"] = max(schema.get("minItems", 0), 1)
        if direction == "request" and isinstance(field, serializers.ListSerializer) and schema.get("type") == "array":
            if field.max_length is not None:
                schema["maxItems"] = field.max_length
            if field.min_length is not None:
                schema["minItems"] = max(schema.get("minItems", 0), field.min_length)
        return schema

    def _filter_parameter_rules(self, operation: dict) -> None:
        """What django-filter refuses, stated on the query parameter: text length, whole numbers and bounds."""
        filterset_class = getattr(self.view, "filterset_class", None)
        if filterset_class is None:
            return
        filters = filterset_class.base_filters
        for parameter in operation.get("parameters", []):
            filter_ = filters.get(parameter.get("name"))
            if filter_ is None or parameter.get("in") != "query":
                continue
            schema = parameter.setdefault("schema", {})
            extra = filter_.extra
            if schema.get("type") == "string" and extra.get("max_length"):
                schema["maxLength"] = extra["max_length"]
            if issubclass(filter_.field_class, forms.IntegerField) and schema.get("type") in ("number", "integer"):
                schema["type"] = "integer"
                schema.pop("format", None)
                if extra.get("min_value") is not None:
                    schema["minimum"] = extra["min_value"]
                if extra.get("max_value") is not None:
                    schema["maximum"] = extra["max_value"]


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "orders.authentication.ApiKeyAuthentication"
    name = "ApiKeyAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "A sales channel's key: `Authorization: Api-Key <key>` (create one with "
            "`python manage.py create_api_key <channel-code>`).",
        }
