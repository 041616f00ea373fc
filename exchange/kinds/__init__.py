"""The importable kinds, by name (docs/import.md lists their columns)."""

from .base import Kind
from .catalogue import ProductsKind, SupplierProductsKind, SuppliersKind
from .orders import CustomersKind, OpenOrdersKind
from .purchasing import PurchaseOrdersKind
from .stock import StockCountsKind

KINDS: dict[str, Kind] = {
    kind.name: kind
    for kind in (
        ProductsKind(),
        SuppliersKind(),
        SupplierProductsKind(),
        StockCountsKind(),
        PurchaseOrdersKind(),
        CustomersKind(),
        OpenOrdersKind(),
    )
}

__all__ = ["KINDS", "Kind"]
