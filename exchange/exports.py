"""What each export kind writes: its columns and its rows, read in chunks (constant memory at any size).

The import kinds export the columns their import takes (so an export edited in a spreadsheet imports back), plus
``updated_at``; backorders, shipments and the stock ledger are exports only. ``updated_since`` filters on the
row's ``updated_at`` (the ledger and shipments are append-only: their creation time)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q, QuerySet

from backorders.models import Backorder
from inventory.models import Product, StockItem, StockMovement
from orders.models import Customer, Order, OrderLine, ShipmentLine
from suppliers.models import PurchaseOrderLine, Supplier, SupplierProduct

CHUNK = 2000


@dataclass(frozen=True)
class ExportKind:
    name: str
    title: str
    columns: list[tuple[str, str]]  # (column in the file, field path in the query)
    queryset: Callable[[], QuerySet]
    since: Callable[[datetime], Q]
    order_by: tuple[str, ...] = ("pk",)

    @property
    def header(self) -> list[str]:
        return [name for name, _ in self.columns]

    def rows(self, *, updated_since: datetime | None = None) -> Iterator[tuple]:
        queryset = self.queryset()
        if updated_since is not None:
            queryset = queryset.filter(self.since(updated_since))
        fields = [path for _, path in self.columns]
        return queryset.order_by(*self.order_by).values_list(*fields).iterator(chunk_size=CHUNK)


def _since(field: str) -> Callable[[datetime], Q]:
    return lambda value: Q(**{f"{field}__gte": value})


_ORDER_LINE_COLUMNS = [
    ("external_reference", "order__external_reference"),
    ("channel", "order__channel__code"),
    ("number", "order__number"),
    ("status", "order__status"),
    ("customer_external_id", "order__customer__external_id"),
    ("customer_email", "order__customer__email"),
    ("customer_name", "order__customer__name"),
    ("ship_policy", "order__ship_policy"),
    ("priority", "order__priority"),
    ("requested_date", "order__requested_date"),
    ("placed_at", "order__placed_at"),
    ("sku", "product__sku"),
    ("quantity", "quantity"),
    ("quantity_allocated", "quantity_allocated"),
    ("quantity_backordered", "quantity_backordered"),
    ("quantity_shipped", "quantity_shipped"),
    ("quantity_cancelled", "quantity_cancelled"),
    ("unit_price", "unit_price"),
    ("updated_at", "order__updated_at"),
]
OPEN_STATUSES = (Order.Status.OPEN, Order.Status.BACKORDERED, Order.Status.PARTIALLY_SHIPPED)

EXPORT_KINDS: dict[str, ExportKind] = {
    kind.name: kind
    for kind in [
        ExportKind(
            "products",
            "Products",
            [
                ("sku", "sku"),
                ("name", "name"),
                ("unit_price", "unit_price"),
                ("status", "status"),
                ("backorderable", "backorderable"),
                ("updated_at", "updated_at"),
            ],
            lambda: Product.objects.all(),
            _since("updated_at"),
            ("sku",),
        ),
        ExportKind(
            "suppliers",
            "Suppliers",
            [
                ("code", "code"),
                ("name", "name"),
                ("email", "email"),
                ("is_active", "is_active"),
                ("updated_at", "updated_at"),
            ],
            lambda: Supplier.objects.all(),
            _since("updated_at"),
            ("code",),
        ),
        ExportKind(
            "supplier_products",
            "Supplier products",
            [
                ("supplier", "supplier__code"),
                ("sku", "product__sku"),
                ("supplier_sku", "supplier_sku"),
                ("lead_time_days", "lead_time_days"),
                ("min_order_quantity", "min_order_quantity"),
                ("pack_size", "pack_size"),
                ("unit_cost", "unit_cost"),
                ("preferred", "preferred"),
                ("updated_at", "updated_at"),
            ],
            lambda: SupplierProduct.objects.all(),
            _since("updated_at"),
        ),
        ExportKind(
            "stock_counts",
            "Stock (on hand per product and warehouse, as a count)",
            [
                ("sku", "product__sku"),
                ("warehouse", "warehouse__code"),
                ("counted", "on_hand"),
                ("allocated", "allocated"),
                ("updated_at", "updated_at"),
            ],
            lambda: StockItem.objects.all(),
            _since("updated_at"),
        ),
        ExportKind(
            "purchase_orders",
            "Purchase orders (one row per line)",
            [
                ("number", "purchase_order__number"),
                ("supplier", "purchase_order__supplier__code"),
                ("warehouse", "purchase_order__warehouse__code"),
                ("expected_date", "purchase_order__expected_date"),
                ("status", "purchase_order__status"),
                ("expedite", "purchase_order__expedite"),
                ("notes", "purchase_order__notes"),
                ("sku", "product__sku"),
                ("quantity", "quantity_ordered"),
                ("line_expected_date", "expected_date"),
                ("quantity_received", "quantity_received"),
                ("confirmed_at", "purchase_order__confirmed_at"),
                ("updated_at", "purchase_order__updated_at"),
            ],
            lambda: PurchaseOrderLine.objects.all(),
            _since("purchase_order__updated_at"),
        ),
        ExportKind(
            "customers",
            "Customers with terms",
            [
                ("external_id", "external_id"),
                ("channel", "channel__code"),
                ("email", "email"),
                ("name", "name"),
                ("tier", "tier"),
                ("max_wait_days", "terms__max_wait_days"),
                ("auto_cancel_after_days", "terms__auto_cancel_after_days"),
                ("sla_days", "terms__sla_days"),
                ("allow_partial", "terms__allow_partial"),
                ("accepts_substitutes", "terms__accepts_substitutes"),
                ("updated_at", "updated_at"),
            ],
            lambda: Customer.objects.all(),
            lambda value: Q(updated_at__gte=value) | Q(terms__updated_at__gte=value),
        ),
        ExportKind(
            "open_orders",
            "Open orders (one row per line)",
            _ORDER_LINE_COLUMNS,
            lambda: OrderLine.objects.filter(order__status__in=OPEN_STATUSES),
            _since("order__updated_at"),
            ("order_id", "pk"),
        ),
        ExportKind(
            "orders",
            "Every order (one row per line)",
            _ORDER_LINE_COLUMNS,
            lambda: OrderLine.objects.all(),
            _since("order__updated_at"),
            ("order_id", "pk"),
        ),
        ExportKind(
            "backorders",
            "Backorders",
            [
                ("id", "pk"),
                ("order", "order__number"),
                ("external_reference", "order__external_reference"),
                ("channel", "order__channel__code"),
                ("customer_external_id", "order__customer__external_id"),
                ("sku", "product__sku"),
                ("status", "status"),
                ("quantity", "quantity"),
                ("quantity_allocated", "quantity_allocated"),
                ("quantity_cancelled", "quantity_cancelled"),
                ("priority", "priority"),
                ("eta", "eta"),
                ("eta_basis", "eta_basis"),
                ("placed_at", "placed_at"),
                ("allocated_at", "allocated_at"),
                ("fulfilled_at", "fulfilled_at"),
                ("cancelled_at", "cancelled_at"),
                ("updated_at", "updated_at"),
            ],
            lambda: Backorder.objects.all(),
            _since("updated_at"),
        ),
        ExportKind(
            "shipments",
            "Shipments (one row per shipped line)",
            [
                ("shipment", "shipment_id"),
                ("order", "order_line__order__number"),
                ("external_reference", "order_line__order__external_reference"),
                ("sku", "order_line__product__sku"),
                ("warehouse", "stock_item__warehouse__code"),
                ("quantity", "quantity"),
                ("tracking_reference", "shipment__tracking_reference"),
                ("shipped_at", "shipment__shipped_at"),
            ],
            lambda: ShipmentLine.objects.all(),
            _since("shipment__shipped_at"),
            ("shipment_id", "pk"),
        ),
        ExportKind(
            "stock_ledger",
            "Stock ledger (every movement)",
            [
                ("id", "pk"),
                ("sku", "stock_item__product__sku"),
                ("warehouse", "stock_item__warehouse__code"),
                ("kind", "kind"),
                ("quantity", "quantity"),
                ("reason", "reason"),
                ("reference", "reference"),
                ("actor", "actor"),
                ("created_at", "created_at"),
            ],
            lambda: StockMovement.objects.all(),
            _since("created_at"),
        ),
    ]
}

__all__ = ["EXPORT_KINDS", "ExportKind"]
