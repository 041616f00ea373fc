from http import HTTPStatus

from core.errors import DomainError


class IdempotencyKeyReused(DomainError):
    code = "idempotency_key_reused"
    status = HTTPStatus.UNPROCESSABLE_ENTITY
    title = "Idempotency key already used for a different request"


class DuplicateSku(DomainError):
    code = "duplicate_sku"
    status = HTTPStatus.UNPROCESSABLE_ENTITY
    title = "The same SKU appears on several lines"


class OrderNotReady(DomainError):
    code = "order_not_ready"
    status = HTTPStatus.CONFLICT
    title = "Order cannot ship yet"


class NothingToShip(DomainError):
    code = "nothing_to_ship"
    status = HTTPStatus.CONFLICT
    title = "Nothing to ship"


class OrderClosed(DomainError):
    code = "order_closed"
    status = HTTPStatus.CONFLICT
    title = "Order is closed"


class NothingToCancel(DomainError):
    code = "nothing_to_cancel"
    status = HTTPStatus.CONFLICT
    title = "Nothing left to cancel"


class CustomerConflict(DomainError):
    code = "customer_conflict"
    status = HTTPStatus.CONFLICT
    title = "Customer details conflict"


class PriorityNotAllowed(DomainError):
    code = "priority_not_allowed"
    status = HTTPStatus.UNPROCESSABLE_ENTITY
    title = "Priority above what this sales channel may ask for"


class TierNotAllowed(DomainError):
    code = "tier_not_allowed"
    status = HTTPStatus.UNPROCESSABLE_ENTITY
    title = "A customer's tier is set by staff"


class AmbiguousCustomer(DomainError):
    code = "ambiguous_customer"
    status = HTTPStatus.CONFLICT
    title = "Several customers match"


class BackorderDeclined(DomainError):
    code = "backorder_declined"
    status = HTTPStatus.CONFLICT
    title = "The customer declined a backorder and not everything is in stock"


class EtaBeyondRequestedDate(DomainError):
    code = "eta_beyond_requested_date"
    status = HTTPStatus.CONFLICT
    title = "A line cannot arrive by the requested date"


class EtaBeyondMaxWait(DomainError):
    code = "eta_beyond_max_wait"
    status = HTTPStatus.CONFLICT
    title = "A line would wait longer than the customer's terms allow"


class NothingAvailable(DomainError):
    code = "nothing_available"
    status = HTTPStatus.CONFLICT
    title = "Nothing of this order is in stock"


class StatusLinkInvalid(DomainError):
    code = "status_link_invalid"
    status = HTTPStatus.NOT_FOUND
    title = "This status link is not valid"


class StatusLinkExpired(DomainError):
    code = "status_link_expired"
    status = HTTPStatus.GONE
    title = "This status link has expired"
