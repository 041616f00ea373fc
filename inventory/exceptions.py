from http import HTTPStatus

from core.errors import DomainError


class UnknownSku(DomainError):
    code = "unknown_sku"
    status = HTTPStatus.UNPROCESSABLE_ENTITY
    title = "Unknown SKU"


class UnknownWarehouse(DomainError):
    code = "unknown_warehouse"
    status = HTTPStatus.UNPROCESSABLE_ENTITY
    title = "Unknown warehouse"


class InsufficientStock(DomainError):
    code = "insufficient_stock"
    status = HTTPStatus.CONFLICT
    title = "Not enough stock"


class NotBackorderable(DomainError):
    code = "not_backorderable"
    status = HTTPStatus.CONFLICT
    title = "Product cannot be backordered"


class CountBelowAllocated(DomainError):
    code = "count_below_allocated"
    status = HTTPStatus.CONFLICT
    title = "Counted fewer units than are reserved for orders"


class LotRequired(DomainError):
    code = "lot_required"
    status = HTTPStatus.UNPROCESSABLE_ENTITY
    title = "Lot-tracked product: say which lot(s) and expiry"


class LotExpired(DomainError):
    code = "lot_expired"
    status = HTTPStatus.UNPROCESSABLE_ENTITY
    title = "The lot is expired"


class LotNotActive(DomainError):
    code = "lot_not_active"
    status = HTTPStatus.CONFLICT
    title = "The lot is quarantined or on hold"


class UnknownLot(DomainError):
    code = "unknown_lot"
    status = HTTPStatus.UNPROCESSABLE_ENTITY
    title = "Unknown lot"


class TransferExceedsAvailable(DomainError):
    code = "transfer_exceeds_available"
    status = HTTPStatus.UNPROCESSABLE_ENTITY
    title = "A transfer cannot take units reserved for orders"
