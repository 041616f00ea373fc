"""Purchase orders and receipts: partial receipts, over-receipt refused, ledger rows, allocation on commit."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from backorders.models import Backorder
from core.errors import InvalidInput, InvalidTransition
from fulfilment.integrity import integrity_problems
from inventory.models import StockItem, StockMovement
from suppliers import services
from suppliers.exceptions import NoPreferredSupplier, NothingToOrder, OverReceipt
from suppliers.models import ExpectedDateRevision, PurchaseOrder, Receipt
from suppliers.selectors import shortages, suggested_order_quantity
from tests.suppliers.factories import SupplierFactory, SupplierProductFactory

R = services.ReceiptLineRequest
L = services.PurchaseOrderLineRequest


@pytest.fixture
def supplier(db):
    return SupplierFactory(code="acme")


def _po(product, quantity=10, send=True, **kwargs):
    return services.purchase_order_create(
        supplier_code="acme",
        warehouse_code="MAIN",
        expected_date=timezone.localdate() + timedelta(days=7),
        lines=[L(product.sku, quantity)],
        send=send,
        **kwargs,
    )


def test_partial_then_full_receipt_writes_ledger_and_status(supplier, make_product, warehouse):
    product = make_product()
    po = _po(product, 10)
    assert po.status == PurchaseOrder.Status.SENT

    services.purchase_order_receive(purchase_order=po, lines=[R(product.sku, 4)])
    po.refresh_from_db()
    assert po.status == PurchaseOrder.Status.PARTIALLY_RECEIVED
    assert po.lines.get().quantity_received == 4

    services.purchase_order_receive(purchase_order=po, lines=[R(product.sku, 6)])
    po.refresh_from_db()
    assert po.status == PurchaseOrder.Status.RECEIVED and po.received_at is not None
    item = StockItem.objects.get(product=product, warehouse=warehouse)
    assert item.on_hand == 10
    movements = list(
        StockMovement.objects.filter(stock_item=item).order_by("id").values_list("kind", "quantity", "reference")
    )
    assert movements == [("receipt", 4, po.number), ("receipt", 6, po.number)]
    assert Receipt.objects.filter(purchase_order=po).count() == 2
    assert integrity_problems() == []


def test_over_receipt_is_refused_and_writes_nothing(supplier, make_product):
    product = make_product()
    po = _po(product, 5)
    services.purchase_order_receive(purchase_order=po, lines=[R(product.sku, 3)])
    with pytest.raises(OverReceipt) as caught:
        services.purchase_order_receive(purchase_order=po, lines=[R(product.sku, 3)])
    assert caught.value.code == "over_receipt"
    assert caught.value.details["lines"][0]["outstanding"] == 2
    assert po.lines.get().quantity_received == 3
    assert StockMovement.objects.filter(kind="receipt").count() == 1
    assert Receipt.objects.count() == 1


def test_draft_and_cancelled_orders_cannot_be_received(supplier, make_product):
    product = make_product()
    po = _po(product, 5, send=False)
    with pytest.raises(InvalidTransition):
        services.purchase_order_receive(purchase_order=po, lines=[R(product.sku, 1)])
    services.purchase_order_send(purchase_order=po)
    services.purchase_order_cancel(purchase_order=po, reason="supplier out of business")
    with pytest.raises(InvalidTransition):
        services.purchase_order_receive(purchase_order=po, lines=[R(product.sku, 1)])
    with pytest.raises(InvalidTransition):
        services.purchase_order_send(purchase_order=po)


def test_receipt_allocates_to_waiting_backorders_after_commit(
    supplier, make_product, place, django_capture_on_commit_callbacks
):
    product = make_product()
    order = place({product.sku: 3})
    backorder = Backorder.objects.get(order=order)
    po = _po(product, 10)
    with django_capture_on_commit_callbacks(execute=True):
        services.purchase_order_receive(purchase_order=po, lines=[R(product.sku, 2)])
    backorder.refresh_from_db()
    assert (backorder.status, backorder.quantity_allocated) == ("partially_allocated", 2)
    with django_capture_on_commit_callbacks(execute=True):
        services.purchase_order_receive(purchase_order=po, lines=[R(product.sku, 5)])
    backorder.refresh_from_db()
    order.refresh_from_db()
    assert (backorder.status, backorder.quantity_allocated) == ("allocated", 3)
    assert order.status == "open"
    event = backorder.events.filter(kind="allocated").get()
    assert event.data["source"] == f"receipt {po.number}"
    assert StockItem.objects.get(product=product).allocated == 3
    assert integrity_problems() == []


def test_revise_dates_keeps_history_and_requires_reason(supplier, make_product, staff_user):
    product = make_product()
    po = _po(product, 5)
    old = po.expected_date
    with pytest.raises(InvalidInput):
        services.purchase_order_revise_dates(purchase_order=po, reason=" ", expected_date=old + timedelta(days=3))
    services.purchase_order_revise_dates(
        purchase_order=po, reason="port strike", expected_date=old + timedelta(days=3), user=staff_user
    )
    line = po.lines.get()
    assert line.expected_date == old + timedelta(days=3) and line.original_expected_date == old
    revision = ExpectedDateRevision.objects.get(line=line)
    assert (revision.old_date, revision.new_date, revision.reason, revision.created_by) == (
        old, old + timedelta(days=3), "port strike", staff_user
    )  # fmt: skip


@pytest.mark.parametrize(
    ("uncovered", "moq", "pack", "expected"),
    [(0, 10, 5, 0), (3, 10, 5, 10), (11, 10, 5, 15), (12, 1, 1, 12), (7, 1, 6, 12)],
)
def test_suggested_quantity_respects_moq_and_pack(uncovered, moq, pack, expected):
    assert suggested_order_quantity(uncovered=uncovered, min_order_quantity=moq, pack_size=pack) == expected


def test_shortages_and_draft_po_for_shortage(supplier, make_product, place, staff_user):
    product = make_product()
    place({product.sku: 23})
    with pytest.raises(NoPreferredSupplier):
        services.purchase_order_draft_for_shortage(product=product, user=staff_user)
    SupplierProductFactory(supplier=supplier, product=product, min_order_quantity=10, pack_size=5, lead_time_days=9)
    _po(product, 8)
    [row] = shortages()
    assert (row["demand"], row["available"], row["incoming"], row["uncovered"]) == (23, 0, 8, 15)
    assert row["incoming_by_date"] == [{"date": timezone.localdate() + timedelta(days=7), "quantity": 8}]
    assert (row["supplier"], row["suggested_quantity"]) == ("acme", 15)

    draft = services.purchase_order_draft_for_shortage(product=product, user=staff_user)
    assert draft.status == PurchaseOrder.Status.DRAFT
    assert draft.lines.get().quantity_ordered == 15
    assert draft.expected_date == timezone.localdate() + timedelta(days=9)
    services.purchase_order_send(purchase_order=draft)
    with pytest.raises(NothingToOrder):
        services.purchase_order_draft_for_shortage(product=product, user=staff_user)


def test_supplier_product_upsert_keeps_one_preferred(supplier, make_product):
    product = make_product()
    SupplierFactory(code="other")
    services.supplier_product_upsert(supplier_code="acme", sku=product.sku, preferred=True)
    services.supplier_product_upsert(supplier_code="other", sku=product.sku, preferred=True, lead_time_days=3)
    preferred = list(product.supplier_products.filter(preferred=True).values_list("supplier__code", flat=True))
    assert preferred == ["other"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_revising_dates_is_not_blocked_by_a_pending_reference_to_the_po_line(
    supplier, make_product, held_elsewhere, lock_timeout
):
    """An ETA recompute pointing backorders at a PO line holds FOR KEY SHARE on the line until it commits;
    revising the PO's dates (FOR NO KEY UPDATE on its lines) goes ahead instead of queueing behind it."""
    from django.db import connection

    from suppliers.models import PurchaseOrderLine

    product = make_product()
    po = _po(product, 10)
    line = po.lines.get()
    new_date = timezone.localdate() + timedelta(days=20)

    def reference_the_line():
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT 1 FROM {PurchaseOrderLine._meta.db_table} WHERE id = %s FOR KEY SHARE", [line.pk])

    with held_elsewhere(reference_the_line), lock_timeout("2s"):
        services.purchase_order_revise_dates(purchase_order=po, reason="supplier delay", expected_date=new_date)
    line.refresh_from_db()
    assert line.expected_date == new_date
    assert ExpectedDateRevision.objects.filter(line=line, new_date=new_date).count() == 1
