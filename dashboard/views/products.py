"""Staff dashboard pages of stock: products (availability, incoming, history) and shortages."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import F, IntegerField, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce, TruncDate
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from core.errors import DomainError
from core.permissions import permission_required_403
from dashboard import charts
from dashboard.exports import csv_response, query_without, search_text, wants_csv
from inventory.models import Product, StockMovement
from inventory.selectors import products_with_availability

PAGE_SIZE = 50


def _sum_subquery(queryset, expression):
    return Coalesce(
        Subquery(queryset.values("product_id").annotate(t=Sum(expression)).values("t")[:1]),
        Value(0),
        output_field=IntegerField(),
    )


def products_for_dashboard():
    """Products with availability, units waiting on backorder and units incoming on open purchase orders."""
    from backorders.models import Backorder
    from suppliers.models import PurchaseOrder, PurchaseOrderLine

    waiting = Backorder.objects.filter(product_id=OuterRef("pk"), status__in=Backorder.WAITING)
    incoming = PurchaseOrderLine.objects.filter(
        product_id=OuterRef("pk"), purchase_order__status__in=PurchaseOrder.INCOMING
    )
    return products_with_availability().annotate(
        waiting=_sum_subquery(waiting, F("quantity") - F("quantity_allocated") - F("quantity_cancelled")),
        incoming=_sum_subquery(incoming, F("quantity_ordered") - F("quantity_received")),
    )


@require_GET
def products(request):
    rows = products_for_dashboard().order_by("sku")
    q = search_text(request)
    if q:
        rows = rows.filter(Q(sku__icontains=q) | Q(name__icontains=q))
    if request.GET.get("backorderable") in ("yes", "no"):
        rows = rows.filter(backorderable=request.GET["backorderable"] == "yes")
    if request.GET.get("status") in Product.Status.values:
        rows = rows.filter(status=request.GET["status"])
    if request.GET.get("short") == "1":
        rows = rows.filter(waiting__gt=0)
    if wants_csv(request):
        header = ["sku", "name", "status", "backorderable", "unit_price", "on_hand", "available", "waiting", "incoming"]
        return csv_response(
            f"products-{timezone.localdate():%Y%m%d}.csv",
            [header, *rows.values_list(*header).iterator(chunk_size=2000)],
        )
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "q": q,
        "statuses": Product.Status.choices,
        "query_no_page": query_without(request, "page"),
        "query_no_format": query_without(request, "format", "page"),
    }
    return render(request, "dashboard/products.html", context)


def _history(product: Product, days: int = 90) -> dict:
    """End-of-day stock on hand (walked back from today through the ledger) and units backordered per day."""
    from backorders.models import Backorder

    today = timezone.localdate()
    first = today - timedelta(days=days - 1)
    start = timezone.now() - timedelta(days=days)
    moved = dict(
        StockMovement.objects.filter(stock_item__product=product, created_at__gte=start)
        .annotate(day=TruncDate("created_at"))
        .values("day")
        .annotate(q=Sum("quantity"))
        .values_list("day", "q")
    )
    backordered = dict(
        Backorder.objects.filter(product=product, created_at__gte=start)
        .annotate(day=TruncDate("created_at"))
        .values("day")
        .annotate(q=Sum("quantity"))
        .values_list("day", "q")
    )
    on_hand_now = product.stock_items.aggregate(t=Coalesce(Sum("on_hand"), 0))["t"]
    day_list = [first + timedelta(days=i) for i in range(days)]
    stock = []
    level = on_hand_now
    for day in reversed(day_list):
        stock.append(level)
        level -= moved.get(day, 0) or 0
    stock.reverse()
    return {"days": day_list, "stock": stock, "backordered": [backordered.get(d, 0) or 0 for d in day_list]}


@require_GET
def product(request, pk: int):
    from backorders.models import Backorder
    from dashboard.selectors import queue_rows, queue_sorted
    from suppliers.models import PurchaseOrder
    from suppliers.planning import replenishment_plan

    item = get_object_or_404(products_for_dashboard(), pk=pk)
    history = _history(item)
    labels = [d.strftime("%d %b") for d in history["days"]]
    context = {
        "product": item,
        "chart": charts.line_chart(
            title=f"Stock and backorders of {item.sku}",
            x_labels=labels,
            series=[("On hand (end of day)", history["stock"]), ("Units backordered that day", history["backordered"])],
        ),
        "stock_items": item.stock_items.select_related("warehouse").order_by("warehouse__code"),
        "incoming": item.purchase_order_lines.filter(purchase_order__status__in=PurchaseOrder.INCOMING)
        .select_related("purchase_order__supplier")
        .order_by("expected_date"),
        "waiting": queue_sorted(queue_rows().filter(product=item, status__in=Backorder.WAITING), "queue")[:20],
        "substitutes": products_with_availability().filter(substitutes=item).order_by("sku"),
        "plan": next(iter(replenishment_plan(skus=[item.sku])), None),
    }
    return render(request, "dashboard/product.html", context)


@require_GET
def shortages(request):
    from inventory.selectors import warehouses_list
    from suppliers.selectors import shortages as shortage_rows

    warehouses = list(warehouses_list())
    warehouse = request.GET.get("warehouse", "")
    if warehouse not in {w.code for w in warehouses}:
        warehouse = ""  # every active warehouse together
    rows = shortage_rows(warehouse=warehouse or None)
    if wants_csv(request):
        header = ["sku", "name", "demand", "on_hand", "available", "incoming", "uncovered", "transfer_from",
                  "transfer_quantity", "suggested_quantity", "supplier"]  # fmt: skip
        return csv_response(
            f"shortages-{warehouse or 'all'}-{timezone.localdate():%Y%m%d}.csv",
            [header, *([_shortage_value(row, key) for key in header] for row in rows)],
        )
    context = {"rows": rows, "warehouses": warehouses, "warehouse": warehouse}
    return render(request, "dashboard/shortages.html", context)


def _shortage_value(row, key: str):
    value = row.get(key)
    return "" if value is None else value


@require_POST
@permission_required_403("suppliers.add_purchaseorder")
def draft_po(request, product_id: int, source: str = "shortages"):
    """Draft a PO from the shortages list (uncovered demand) or the planning page (what the plan says to order)."""
    from suppliers.planning import dashboard_service_level
    from suppliers.services import purchase_order_draft_for_plan, purchase_order_draft_for_shortage

    product = get_object_or_404(Product, pk=product_id)
    back = reverse(f"dashboard:{source}")
    try:
        if source == "planning":
            service_level = dashboard_service_level(request.POST.get("service_level"))
            purchase_order = purchase_order_draft_for_plan(
                product=product, service_level=service_level, user=request.user
            )
        else:
            purchase_order = purchase_order_draft_for_shortage(product=product, user=request.user)
    except DomainError as exc:
        return render(
            request, "dashboard/action_error.html", {"errors": [exc.message], "back": back}, status=exc.status
        )
    messages.success(request, f"Draft purchase order {purchase_order.number} created for {product.sku}.")
    return HttpResponseRedirect(back, status=303)
