from rest_framework import status

from config.errors import DomainError, InvalidTransition  # noqa: F401  (re-exported for callers)


class BackorderClosed(DomainError):
    code = "backorder_closed"
    status = status.HTTP_409_CONFLICT
    title = "Backorder is closed"


class InvalidPriority(DomainError):
    code = "invalid_priority"
    status = status.HTTP_422_UNPROCESSABLE_ENTITY
    title = "Invalid priority"


class NothingToReallocate(DomainError):
    code = "nothing_to_reallocate"
    status = status.HTTP_409_CONFLICT
    title = "Nothing to reallocate"
