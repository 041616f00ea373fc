"""ETA (available-to-promise): from the purchase-order schedule, from the supplier lead time, or none."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from backorders.eta import eta_recompute_product, product_promise
from backorders.models import Backorder
from notifications.models import Notification
from suppliers import services as supply
from tests.suppliers.factories import PurchaseOrderLineFactory, SupplierProductFactory

TODAY = timezone.localdate


def _etas(orders):
    return [(b.eta, b.eta_basis) for b in (Backorder.objects.get(order=o) for o in orders)]


def test_eta_walks_the_queue_against_the_po_schedule(make_product, place):
    product = make_product()
    orders = [place({product.sku: q}) for q in (3, 4, 5)]
    near = PurchaseOrderLineFactory(
        product=product, quantity_ordered=5, purchase_order__expected_date=TODAY() + timedelta(days=5)
    )
    far = PurchaseOrderLineFactory(
        product=product, quantity_ordered=10, purchase_order__expected_date=TODAY() + timedelta(days=20)
    )
    PurchaseOrderLineFactory(product=product, quantity_ordered=99, purchase_order__status="draft")  # not incoming

    assert eta_recompute_product(product_id=product.pk) == 3
    d5, d20 = TODAY() + timedelta(days=5), TODAY() + timedelta(days=20)
    # Cumulative demand 3, 7, 12 against supply 5 (day 5) then 15 (day 20).
    assert _etas(orders) == [(d5, "purchase_order"), (d20, "purchase_order"), (d20, "purchase_order")]
    first = Backorder.objects.get(order=orders[0])
    assert (first.eta_first, first.eta_purchase_order_line_id) == (d5, near.pk)
    event = first.events.get(kind="eta_changed")
    assert event.data == {"old": None, "new": d5.isoformat(), "basis": "purchase_order", "old_basis": "none"}
    assert Backorder.objects.get(order=orders[1]).eta_purchase_order_line_id == far.pk

    assert eta_recompute_product(product_id=product.pk) == 0  # nothing moved: no new events
    assert first.events.filter(kind="eta_changed").count() == 1


def test_revised_po_date_moves_the_eta_and_keeps_eta_first(make_product, place, warehouse):
    product = make_product()
    order = place({product.sku: 2})
    supply.supplier_create(code="acme", name="Acme")
    po = supply.purchase_order_create(
        supplier_code="acme", warehouse_code=warehouse.code, expected_date=TODAY() + timedelta(days=4),
        lines=[supply.PurchaseOrderLineRequest(product.sku, 5)], send=True,
    )  # fmt: skip
    eta_recompute_product(product_id=product.pk)
    supply.purchase_order_revise_dates(purchase_order=po, reason="late ship", expected_date=TODAY() + timedelta(days=9))
    eta_recompute_product(product_id=product.pk)
    backorder = Backorder.objects.get(order=order)
    assert (backorder.eta, backorder.eta_first) == (TODAY() + timedelta(days=9), TODAY() + timedelta(days=4))
    assert list(backorder.events.filter(kind="eta_changed").values_list("data__new", flat=True)) == [
        (TODAY() + timedelta(days=4)).isoformat(),
        (TODAY() + timedelta(days=9)).isoformat(),
    ]
    supply.purchase_order_cancel(purchase_order=po)
    eta_recompute_product(product_id=product.pk)
    backorder.refresh_from_db()
    assert (backorder.eta, backorder.eta_basis) == (None, "none")


def test_eta_from_lead_time_beyond_known_supply_and_none_without_supplier(make_product, place):
    product = make_product()
    orders = [place({product.sku: 4}) for _ in range(2)]
    PurchaseOrderLineFactory(
        product=product, quantity_ordered=4, purchase_order__expected_date=TODAY() + timedelta(days=3)
    )
    eta_recompute_product(product_id=product.pk)
    assert _etas(orders) == [(TODAY() + timedelta(days=3), "purchase_order"), (None, "none")]

    SupplierProductFactory(product=product, lead_time_days=30)
    eta_recompute_product(product_id=product.pk)
    assert _etas(orders)[1] == (TODAY() + timedelta(days=30), "lead_time")


def test_priority_change_reorders_etas(make_product, place, staff_user):
    from backorders.services import backorder_priority_change

    product = make_product()
    first, second = place({product.sku: 2}), place({product.sku: 2})
    PurchaseOrderLineFactory(
        product=product, quantity_ordered=2, purchase_order__expected_date=TODAY() + timedelta(days=2)
    )
    SupplierProductFactory(product=product, lead_time_days=40)
    eta_recompute_product(product_id=product.pk)
    assert _etas([first, second]) == [
        (TODAY() + timedelta(days=2), "purchase_order"),
        (TODAY() + timedelta(days=40), "lead_time"),
    ]
    backorder_priority_change(
        backorder=Backorder.objects.get(order=second), priority="high", reason="VIP", user=staff_user
    )
    eta_recompute_product(product_id=product.pk)
    assert _etas([second, first]) == [
        (TODAY() + timedelta(days=2), "purchase_order"),
        (TODAY() + timedelta(days=40), "lead_time"),
    ]


def test_a_new_backorder_has_its_eta_at_once_and_the_recompute_confirms_it(
    make_product, place, django_capture_on_commit_callbacks
):
    product = make_product()
    line = PurchaseOrderLineFactory(
        product=product, quantity_ordered=10, purchase_order__expected_date=TODAY() + timedelta(days=6)
    )
    order = place({product.sku: 1})  # the after-commit recompute has not run
    backorder = Backorder.objects.get(order=order)
    d6 = TODAY() + timedelta(days=6)
    assert (backorder.eta, backorder.eta_basis, backorder.eta_first) == (d6, "purchase_order", d6)
    assert backorder.eta_purchase_order_line_id == line.pk
    created = backorder.events.get(kind="created")
    assert (created.data["eta"], created.data["eta_basis"]) == (d6.isoformat(), "purchase_order")
    # The customer's "backorder created" message carries the date.
    message = Notification.objects.get(order=order, event="backorder_created")
    assert message.context["items"][0]["eta"] == d6.isoformat()

    # The recompute that follows the commit finds nothing to change: no second "ETA confirmed" message.
    with django_capture_on_commit_callbacks(execute=True):
        assert eta_recompute_product(product_id=product.pk) == 0
    assert not backorder.events.filter(kind="eta_changed").exists()
    assert not Notification.objects.filter(order=order, event="eta_changed").exists()


def test_a_newcomer_gets_the_date_of_its_place_in_the_queue(make_product, place):
    from fulfilment.services import LineRequest, order_place
    from orders.services import CustomerData

    product = make_product()
    d6, d20 = TODAY() + timedelta(days=6), TODAY() + timedelta(days=20)
    PurchaseOrderLineFactory(product=product, quantity_ordered=10, purchase_order__expected_date=d6)
    PurchaseOrderLineFactory(product=product, quantity_ordered=10, purchase_order__expected_date=d20)
    waiting = place({product.sku: 8})  # covered by the first PO
    normal = place({product.sku: 5})  # 13 units ahead and its own: the second PO
    urgent = order_place(
        customer=CustomerData("vip", "vip@example.com", "VIP"), lines=[LineRequest(product.sku, 5)], priority="high"
    ).order  # jumps the normal queue: 5 units, the first PO covers it
    assert _etas([waiting, normal, urgent]) == [(d6, "purchase_order"), (d20, "purchase_order"), (d6, "purchase_order")]
    # The recompute then moves the one it pushed back (8 + 5 > 10 on day 6), and says so.
    assert eta_recompute_product(product_id=product.pk) == 1
    assert _etas([waiting, normal, urgent]) == [
        (d20, "purchase_order"),
        (d20, "purchase_order"),
        (d6, "purchase_order"),
    ]


def test_product_promise_for_a_new_order(make_product, place):
    product = make_product(stock=1)
    assert product_promise(product=product)["backorder_eta"] == TODAY()
    place({product.sku: 3})
    assert product_promise(product=product) == {
        "next_restock_date": None,
        "backorder_eta": None,
        "backorder_eta_basis": "none",
        "backorder_eta_expected": None,
        "backorder_eta_confidence": None,
    }
    PurchaseOrderLineFactory(
        product=product, quantity_ordered=2, purchase_order__expected_date=TODAY() + timedelta(days=8)
    )
    PurchaseOrderLineFactory(
        product=product, quantity_ordered=2, purchase_order__expected_date=TODAY() + timedelta(days=12)
    )
    assert product_promise(product=product) == {
        "next_restock_date": TODAY() + timedelta(days=8),
        "backorder_eta": TODAY() + timedelta(days=12),  # 2 waiting + 1 new = 3rd unit comes with the second PO
        "backorder_eta_basis": "purchase_order",
        "backorder_eta_expected": TODAY() + timedelta(days=12),
        "backorder_eta_confidence": None,
    }


@pytest.mark.postgres
def test_eta_recompute_of_many_backorders_is_a_handful_of_queries(make_product, place):
    """A fixed number of statements: the read (with the supply's learned promises: open lines, suppliers, their
    delivered and overdue lines, revisions), then per chunk of writes a lock, a check and the writes (the outbox
    hook's own queries are not counted)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    product = make_product()
    for _ in range(40):
        place({product.sku: 1})
    PurchaseOrderLineFactory(
        product=product, quantity_ordered=25, purchase_order__expected_date=TODAY() + timedelta(days=5)
    )
    eta_recompute_product(product_id=product.pk)
    PurchaseOrderLineFactory(
        product=product, quantity_ordered=25, purchase_order__expected_date=TODAY() + timedelta(days=7)
    )
    with CaptureQueriesContext(connection) as queries:
        assert eta_recompute_product(product_id=product.pk) == 15
    own = [q["sql"] for q in queries if "notifications_" not in q["sql"] and "product_substitutes" not in q["sql"]]
    assert len(own) <= 19  # + the chunk's EventBatch marker (issue 13)


def test_long_queues_are_written_in_chunks_and_closed_rows_are_left_alone(make_product, place, monkeypatch):
    import backorders.eta as eta
    from fulfilment.services import backorder_cancel

    monkeypatch.setattr(eta, "ETA_WRITE_CHUNK", 2)
    product = make_product()
    orders = [place({product.sku: 1}) for _ in range(5)]
    PurchaseOrderLineFactory(
        product=product, quantity_ordered=10, purchase_order__expected_date=TODAY() + timedelta(days=6)
    )
    assert eta_recompute_product(product_id=product.pk) == 5  # three chunks: 2 + 2 + 1
    assert {eta for eta, _ in _etas(orders)} == {TODAY() + timedelta(days=6)}
    assert Backorder.objects.filter(events__kind="eta_changed").count() == 5

    # A row that stopped waiting between the read and its chunk's write keeps its last date, no event.
    cancelled = Backorder.objects.get(order=orders[0])
    backorder_cancel(backorder=cancelled, reason="customer")
    row = (
        cancelled.pk, TODAY() + timedelta(days=30), "lead_time", None, cancelled.eta_first, cancelled.eta,
        cancelled.eta_basis, cancelled.eta_purchase_order_line_id, TODAY() + timedelta(days=30), None,
    )  # fmt: skip
    assert eta._write_chunk(product.pk, [row]) == 0
    cancelled.refresh_from_db()
    assert cancelled.eta == TODAY() + timedelta(days=6)
    assert cancelled.events.filter(kind="eta_changed").count() == 1
