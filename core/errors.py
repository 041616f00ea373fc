"""The domain error base. Every business-rule violation raises a subclass with a stable snake_case ``code``.

No DRF here (domain modules must not depend on the web layer): the HTTP status is an ``http.HTTPStatus`` that the
API's exception handler (``core.api.problem_exception_handler``) turns into an RFC 9457 problem response.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any


class DomainError(Exception):
    """Base class of every business-rule violation. Subclasses set ``code`` and ``status``."""

    code = "domain_error"
    status = HTTPStatus.CONFLICT
    title = "Request conflicts with the current state"

    def __init__(self, message: str | None = None, *, details: dict[str, Any] | None = None):
        self.message = message or self.title
        self.details = details or {}
        super().__init__(self.message)


class NotFoundError(DomainError):
    code = "not_found"
    status = HTTPStatus.NOT_FOUND
    title = "Not found"


class InvalidInput(DomainError):
    code = "invalid_input"
    status = HTTPStatus.UNPROCESSABLE_ENTITY
    title = "Invalid input"


class InvalidTransition(DomainError):
    code = "invalid_transition"
    status = HTTPStatus.CONFLICT
    title = "This change is not allowed in the current state"


class DateOutOfRange(DomainError):
    code = "date_out_of_range"
    status = HTTPStatus.UNPROCESSABLE_ENTITY
    title = "Date outside the allowed range"
