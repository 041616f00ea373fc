from rest_framework import status

from config.errors import DomainError


class IdempotencyKeyReused(DomainError):
    code = "idempotency_key_reused"
    status = status.HTTP_422_UNPROCESSABLE_ENTITY
    title = "Idempotency key already used for a different request"


class DuplicateSku(DomainError):
    code = "duplicate_sku"
    status = status.HTTP_422_UNPROCESSABLE_ENTITY
    title = "The same SKU appears on several lines"


class OrderNotReady(DomainError):
    code = "order_not_ready"
    status = status.HTTP_409_CONFLICT
    title = "Order cannot ship yet"


class NothingToShip(DomainError):
    code = "nothing_to_ship"
    status = status.HTTP_409_CONFLICT
    title = "Nothing to ship"


class OrderClosed(DomainError):
    code = "order_closed"
    status = status.HTTP_409_CONFLICT
    title = "Order is closed"


class NothingToCancel(DomainError):
    code = "nothing_to_cancel"
    status = status.HTTP_409_CONFLICT
    title = "Nothing left to cancel"


class CustomerConflict(DomainError):
    code = "customer_conflict"
    status = status.HTTP_409_CONFLICT
    title = "Customer details conflict"
