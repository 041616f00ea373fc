"""Domain errors of notifications (base: core.errors.DomainError), each with a stable code."""

from __future__ import annotations

from http import HTTPStatus

from core.errors import DomainError, InvalidInput


class WebhookUrlNotAllowed(InvalidInput):
    """Not an https:// URL of a public host (core/outbound.py): refused when saved, as at connect time."""

    code = "webhook_url_not_allowed"
    title = "Webhook URL not allowed"


class WebhookEndpointLimit(DomainError):
    code = "webhook_endpoint_limit"
    status = HTTPStatus.CONFLICT
    title = "Too many webhook endpoints"
