"""Every error answer under /api/ is RFC 9457 problem+json, whatever Django's mode.

DRF's exception handler (core.api) covers errors raised in API views. This middleware covers what happens
outside them: a body larger than DATA_UPLOAD_MAX_MEMORY_SIZE (answered 413 before anything reads it), Django's
technical 404/500 pages with DEBUG on, a disallowed host or CSRF failure rendered as HTML.
"""

from __future__ import annotations

from http import HTTPStatus

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse

from core.api import PROBLEM_CONTENT_TYPE, SERVICE_UNAVAILABLE_RETRY_AFTER, service_unavailable_problem

_CODES = {
    400: ("bad_request", "Bad request"),
    403: ("permission_denied", "Permission denied"),
    404: ("not_found", "Not found"),
    405: ("method_not_allowed", "Method not allowed"),
    413: ("payload_too_large", "Payload too large"),
    503: ("service_unavailable", "Service unavailable"),
    500: ("internal_error", "Internal error"),
}
_DETAILS = {
    404: "No API endpoint at this URL.",
    413: "The request body is larger than the server accepts.",
    500: "Something went wrong.",
    503: service_unavailable_problem()["detail"],
}


def problem(status_code: int) -> JsonResponse:
    code, title = _CODES.get(status_code, ("error", HTTPStatus(status_code).phrase))
    body = {
        "type": f"https://oms.example.com/problems/{code.replace('_', '-')}",
        "title": title,
        "status": status_code,
        "detail": _DETAILS.get(status_code, title + "."),
        "code": code,
    }
    return JsonResponse(body, status=status_code, content_type=PROBLEM_CONTENT_TYPE)


def _declared_body_size(request) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


class ApiProblemMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path_info.startswith("/api/"):
            return self.get_response(request)
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if request.path_info == "/api/v1/imports/" and request.content_type == "multipart/form-data":
            # An import file is streamed to disk by the multipart parser (its other fields stay under the limit).
            limit = settings.OMS["IMPORT_MAX_BYTES"]
        if limit is not None and _declared_body_size(request) > limit:
            # Refused before anything reads the body: no view runs, nothing is written.
            return problem(413)
        response = self.get_response(request)
        if response.status_code >= 400 and not response.get("Content-Type", "").startswith(PROBLEM_CONTENT_TYPE):
            response.close()
            return problem(response.status_code)
        return response

    def process_exception(self, request, exception):
        if isinstance(exception, RequestDataTooBig) and request.path_info.startswith("/api/"):
            return problem(413)
        if isinstance(exception, (OperationalError, InterfaceError)):
            # The database is unreachable (a restart, a failover): "try again shortly", on every page.
            if request.path_info.startswith("/api/"):
                response = problem(503)
            else:
                response = HttpResponse(
                    "The service cannot reach its database right now. Please retry in a few seconds.",
                    status=503,
                    content_type="text/plain; charset=utf-8",
                )
            response["Retry-After"] = str(SERVICE_UNAVAILABLE_RETRY_AFTER)
            return response
        return None
