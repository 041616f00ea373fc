from http import HTTPStatus

from core.errors import DomainError, InvalidInput, InvalidTransition, NotFoundError  # noqa: F401


class OverReceipt(DomainError):
    code = "over_receipt"
    status = HTTPStatus.UNPROCESSABLE_ENTITY
    title = "More received than was ordered"


class UnknownSupplier(DomainError):
    code = "unknown_supplier"
    status = HTTPStatus.UNPROCESSABLE_ENTITY
    title = "Unknown supplier"


class NoPreferredSupplier(DomainError):
    code = "no_preferred_supplier"
    status = HTTPStatus.CONFLICT
    title = "No preferred supplier for this product"


class NothingToOrder(DomainError):
    code = "nothing_to_order"
    status = HTTPStatus.CONFLICT
    title = "Nothing to order"
