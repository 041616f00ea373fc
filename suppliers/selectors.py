"""Reads of suppliers and purchase orders, and the shortage list (shared with the dashboard)."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import F, Prefetch

from .models import ExpectedDateRevision, PurchaseOrder, PurchaseOrderLine, Supplier, SupplierProduct


def supplier_list():
    return Supplier.objects.order_by("code")


def supplier_product_list():
    return SupplierProduct.objects.select_related("supplier", "product").order_by("product__sku", "supplier__code")


def purchase_order_list():
    return PurchaseOrder.objects.select_related("supplier", "warehouse").prefetch_related(
        Prefetch("lines", queryset=PurchaseOrderLine.objects.select_related("product").order_by("pk"))
    )


def purchase_order_get(*, number: str) -> PurchaseOrder | None:
    if not number or "\x00" in number or len(number) > 32:
        return None
    return (
        purchase_order_list()
        .prefetch_related(
            Prefetch(
                "lines__date_revisions",
                queryset=ExpectedDateRevision.objects.select_related("created_by").order_by("created_at", "id"),
            )
        )
        .filter(number=number)
        .first()
    )


def incoming_lines(*, product_ids: Iterable[int] | None = None):
    """Open purchase-order lines (sent or partly received, units still to come), earliest first."""
    queryset = PurchaseOrderLine.objects.filter(
        purchase_order__status__in=PurchaseOrder.INCOMING, quantity_received__lt=F("quantity_ordered")
    )
    if product_ids is not None:
        queryset = queryset.filter(product_id__in=list(product_ids))
    return queryset.order_by("product_id", "expected_date", "id")


def suggested_order_quantity(*, uncovered: int, min_order_quantity: int, pack_size: int) -> int:
    """At least the uncovered units, at least the minimum order, rounded up to whole packs."""
    if uncovered <= 0:
        return 0
    quantity = max(uncovered, min_order_quantity)
    return -(-quantity // pack_size) * pack_size


def shortages(*, product_ids: Iterable[int] | None = None, warehouse: str | None = None) -> list[dict]:
    """Per product with waiting backorders: demand, stock, incoming by date, uncovered and what to order.

    A handful of queries whatever the number of products. ``uncovered`` = demand − available − incoming (not below 0).
    With ``warehouse`` (a code): seen from that warehouse (``warehouse_scope``), and a transfer from the warehouse
    with the most free units is suggested before a purchase order (``transfer_from``, ``transfer_quantity``).
    """
    from inventory.models import Product

    from .warehouse_scope import network_scope, warehouse_scope

    scope = (
        warehouse_scope(code=warehouse, product_ids=product_ids)
        if warehouse
        else network_scope(product_ids=product_ids)
    )
    demand = {pid: units for pid, units in scope.waiting.items() if units}
    if not demand:
        return []
    ids = sorted(demand)
    preferred = {
        sp.product_id: sp
        for sp in SupplierProduct.objects.filter(product_id__in=ids, preferred=True).select_related("supplier")
    }
    rows = []
    for product in Product.objects.filter(pk__in=ids).order_by("sku"):
        available = scope.free.get(product.pk, 0)  # only active warehouses' stock is available (inventory.routing)
        by_date = sorted(scope.incoming_by_date.get(product.pk, {}).items())
        incoming_total = sum(q for _, q in by_date)
        uncovered = max(0, demand[product.pk] - available - incoming_total)
        transfer_from, transfer_quantity = scope.transfer(product.pk, uncovered) if warehouse else (None, 0)
        sp = preferred.get(product.pk)
        rows.append(
            {
                "product_id": product.pk,
                "sku": product.sku,
                "name": product.name,
                "demand": demand[product.pk],
                "on_hand": scope.on_hand.get(product.pk, 0),
                "available": available,
                "incoming": incoming_total,
                "incoming_by_date": [{"date": d, "quantity": q} for d, q in by_date],
                "uncovered": uncovered,
                "transfer_from": transfer_from,
                "transfer_quantity": transfer_quantity,
                "supplier": sp.supplier.code if sp else None,
                "lead_time_days": sp.lead_time_days if sp else None,
                "min_order_quantity": sp.min_order_quantity if sp else None,
                "pack_size": sp.pack_size if sp else None,
                "suggested_quantity": (
                    suggested_order_quantity(
                        uncovered=uncovered - transfer_quantity,
                        min_order_quantity=sp.min_order_quantity,
                        pack_size=sp.pack_size,
                    )
                    if sp
                    else 0
                ),
            }
        )
    return rows


def allocation_runs_for_purchase_order(*, purchase_order, limit: int = 20) -> list:
    """The allocation runs its receipts set off (newest first): who got the units and who was passed over, and why."""
    from backorders.models import AllocationRecord

    product_ids = [line.product_id for line in purchase_order.lines.all()]
    return list(
        AllocationRecord.objects.filter(product_id__in=product_ids, source__endswith=f" {purchase_order.number}")
        .select_related("product")
        .order_by("-run_at", "-id")[:limit]
    )


def forecast_quality_summary() -> dict:
    """The planning page's panel: per method, how many products use it and how good it backtested (one query)."""
    from django.db.models import Avg, Count

    from inventory.models import Product

    from .models import ForecastChoice
    from .services.forecasting import DEFAULT_FOLDS, DEFAULT_HORIZON_DAYS, DEFAULT_WINDOW_DAYS

    methods = [
        {"method": row["method"], "products": row["n"], "wape": row["wape"], "skill": row["skill"]}
        for row in ForecastChoice.objects.filter(product__status=Product.Status.ACTIVE)
        .values("method")
        .annotate(n=Count("id"), wape=Avg("wape"), skill=Avg("skill_vs_naive"))
        .order_by("method")
    ]
    active = Product.objects.filter(status=Product.Status.ACTIVE).count()
    return {
        "methods": methods,
        "insufficient": max(0, active - sum(m["products"] for m in methods)),
        "window": DEFAULT_WINDOW_DAYS,
        "horizon": DEFAULT_HORIZON_DAYS,
        "folds": DEFAULT_FOLDS,
    }
