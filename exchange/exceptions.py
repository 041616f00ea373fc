from http import HTTPStatus

from core.errors import DomainError


class InvalidSignature(DomainError):
    code = "invalid_signature"
    status = HTTPStatus.UNAUTHORIZED
    title = "The request is not signed by this source"


class StaleTimestamp(DomainError):
    code = "stale_timestamp"
    status = HTTPStatus.UNAUTHORIZED
    title = "The signed timestamp is too old or in the future"


class EventNotAllowed(DomainError):
    code = "event_not_allowed"
    status = HTTPStatus.FORBIDDEN
    title = "This source may not send this event"


class UnknownEventType(DomainError):
    code = "unknown_event_type"
    status = HTTPStatus.UNPROCESSABLE_ENTITY
    title = "Unknown event type"
