from rest_framework import status

from config.errors import DomainError, InvalidInput, InvalidTransition, NotFoundError  # noqa: F401


class OverReceipt(DomainError):
    code = "over_receipt"
    status = status.HTTP_422_UNPROCESSABLE_ENTITY
    title = "More received than was ordered"


class UnknownSupplier(DomainError):
    code = "unknown_supplier"
    status = status.HTTP_422_UNPROCESSABLE_ENTITY
    title = "Unknown supplier"


class NoPreferredSupplier(DomainError):
    code = "no_preferred_supplier"
    status = status.HTTP_409_CONFLICT
    title = "No preferred supplier for this product"


class NothingToOrder(DomainError):
    code = "nothing_to_order"
    status = status.HTTP_409_CONFLICT
    title = "Nothing to order"
