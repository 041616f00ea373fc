from http import HTTPStatus

from core.errors import DomainError, InvalidTransition  # noqa: F401  (re-exported for callers)


class BackorderClosed(DomainError):
    code = "backorder_closed"
    status = HTTPStatus.CONFLICT
    title = "Backorder is closed"


class InvalidPriority(DomainError):
    code = "invalid_priority"
    status = HTTPStatus.UNPROCESSABLE_ENTITY
    title = "Invalid priority"


class NothingToReallocate(DomainError):
    code = "nothing_to_reallocate"
    status = HTTPStatus.CONFLICT
    title = "Nothing to reallocate"
