from rest_framework import status

from config.errors import DomainError


class UnknownSku(DomainError):
    code = "unknown_sku"
    status = status.HTTP_422_UNPROCESSABLE_ENTITY
    title = "Unknown SKU"


class UnknownWarehouse(DomainError):
    code = "unknown_warehouse"
    status = status.HTTP_422_UNPROCESSABLE_ENTITY
    title = "Unknown warehouse"


class InsufficientStock(DomainError):
    code = "insufficient_stock"
    status = status.HTTP_409_CONFLICT
    title = "Not enough stock"


class NotBackorderable(DomainError):
    code = "not_backorderable"
    status = status.HTTP_409_CONFLICT
    title = "Product cannot be backordered"
