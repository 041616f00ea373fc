"""Everything at once on PostgreSQL: threads doing random mixes of every stock-moving operation on a few products.

Six threads, each a seeded random sequence of placing (multi-line, both ship policies, every priority),
cancelling (whole orders and single lines), shipping, adjusting stock both ways, receiving purchase orders,
raising priorities, reallocating and switching to a substitute — with the allocation and ETA tasks running after
each commit in the same threads. Every lock holder takes its locks in the one global order, so: no deadlock, no
lock error, no error other than a business refusal; afterwards ``check_integrity`` is clean, no stock item is
oversold and no backorder holds more than it needs.
"""

from __future__ import annotations

import random
import threading
from datetime import timedelta

import pytest
from django.db.models import F
from django.utils import timezone

from backorders.models import Backorder
from backorders.services import backorder_priority_change, backorder_reallocate
from backorders.substitutes import backorder_accept_substitute
from core.errors import DomainError
from fulfilment.integrity import integrity_problems
from fulfilment.services import CancelRequest, LineRequest, order_cancel, order_place, order_ship
from inventory.models import Product, StockItem
from inventory.services import stock_adjust
from orders.models import Order
from orders.services import CustomerData
from suppliers import services as supplier_services
from tests.suppliers.factories import SupplierFactory
from tests.threads import run_threads

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

SKUS = ["MIX-A", "MIX-B", "MIX-C"]
THREADS = 6
OPERATIONS = 25


def _operation(rng: random.Random, thread: int, n: int) -> None:
    kind = rng.choices(
        ["place", "cancel", "ship", "adjust", "receive", "priority", "reallocate", "substitute"],
        weights=[6, 2, 2, 2, 2, 1, 1, 1],
    )[0]
    if kind == "place":
        skus = rng.sample(SKUS, rng.randint(1, 3))
        order_place(
            customer=CustomerData(
                f"mix-{thread}-{n % 3}", f"mix{thread}@example.com", "Mix", rng.choice(["gold", "standard"])
            ),
            lines=[LineRequest(sku, rng.randint(1, 3)) for sku in skus],
            ship_policy=rng.choice(["partial", "complete"]),
            priority=rng.choice(["low", "normal", "high", "critical"]),
        )
        return
    if kind == "adjust":
        stock_adjust(
            sku=rng.choice(SKUS),
            warehouse_code=rng.choice(["MAIN", "EAST"]),
            quantity=rng.choice([-2, -1, 2, 4, 6]),
            reason="mix",
        )
        return
    if kind == "receive":
        sku = rng.choice(SKUS)
        po = supplier_services.purchase_order_create(
            supplier_code="mix-supplier",
            warehouse_code=rng.choice(["MAIN", "EAST"]),
            expected_date=timezone.localdate() + timedelta(days=4),
            lines=[supplier_services.PurchaseOrderLineRequest(sku, 6)],
            send=True,
        )
        supplier_services.purchase_order_receive(
            purchase_order=po, lines=[supplier_services.ReceiptLineRequest(sku, rng.randint(1, 6))]
        )
        return
    orders = list(
        Order.objects.filter(status__in=["open", "backordered", "partially_shipped"]).values_list("pk", flat=True)
    )
    waiting = list(Backorder.objects.filter(status__in=Backorder.WAITING).values_list("pk", flat=True))
    if kind in ("cancel", "ship") and orders:
        order = Order.objects.get(pk=rng.choice(orders))
        if kind == "ship":
            order_ship(order=order)
        elif rng.random() < 0.5:
            order_cancel(order=order, reason="mix")
        else:
            sku = order.lines.values_list("product__sku", flat=True).first()
            order_cancel(order=order, lines=[CancelRequest(sku=sku, quantity=1)], reason="mix")
    elif kind in ("priority", "reallocate", "substitute") and waiting:
        backorder = Backorder.objects.get(pk=rng.choice(waiting))
        if kind == "priority":
            backorder_priority_change(backorder=backorder, priority=rng.choice(["high", "critical"]), reason="mix")
        elif kind == "reallocate":
            backorder_reallocate(backorder=backorder, reason="mix")
        else:
            backorder_accept_substitute(backorder=backorder, sku="MIX-SUB")


def test_random_mixes_of_every_operation_in_parallel(make_product, warehouse):
    from inventory.services import warehouse_create

    warehouse_create(code="EAST", name="East")
    SupplierFactory(code="mix-supplier")
    substitute = make_product(sku="MIX-SUB", stock=30)
    for sku in SKUS:
        make_product(sku=sku, stock=5).substitutes.add(substitute)
    refusals = [0]
    lock = threading.Lock()

    def worker(thread: int) -> None:
        rng = random.Random(1000 + thread)
        for n in range(OPERATIONS):
            try:
                _operation(rng, thread, n)
            except DomainError:
                with lock:
                    refusals[0] += 1

    errors = run_threads(THREADS, worker, timeout=240)  # a deadlock, a lock error or a bug fails the test
    assert errors == []
    assert refusals[0] < THREADS * OPERATIONS  # most operations went through
    assert Order.objects.count() > THREADS * 5
    assert integrity_problems() == []
    assert not StockItem.objects.filter(allocated__gt=F("on_hand")).exists()
    assert not Backorder.objects.filter(quantity_allocated__gt=F("quantity") - F("quantity_cancelled")).exists()
    assert set(Product.objects.values_list("sku", flat=True)) >= {*SKUS, "MIX-SUB"}
