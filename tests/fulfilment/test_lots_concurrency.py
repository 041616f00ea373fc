"""Lot-tracked orders racing on PostgreSQL: two orders never get the same lot units; the engine and placement
racing each other keep every lot counter right."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db.models import Sum
from django.utils import timezone

from backorders.allocation import backorders_allocate
from fulfilment.integrity import integrity_problems
from fulfilment.services import LineRequest, order_place
from inventory.lots import LotInput
from inventory.models import Lot, Product
from inventory.services import stock_adjust
from orders.models import LotAllocation, OrderLine
from orders.services import CustomerData
from tests.inventory.factories import ProductFactory
from tests.threads import run_threads

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _place(sku: str, i: int, quantity: int):
    return order_place(
        customer=CustomerData(f"c{i}", f"c{i}@example.com", f"Customer {i}"), lines=[LineRequest(sku, quantity)]
    )


def test_racing_orders_never_share_lot_units(warehouse):
    ProductFactory(sku="VACCINE", tracking=Product.Tracking.LOT, min_shelf_life_days=30)
    today = timezone.localdate()
    lots = [LotInput("A", 3, today + timedelta(days=45)), LotInput("B", 4, today + timedelta(days=90))]
    lots.append(LotInput("SHORT", 20, today + timedelta(days=5)))  # never allocatable: below the minimum
    stock_adjust(sku="VACCINE", warehouse_code="MAIN", quantity=27, reason="receipt", lots=lots)

    demand = {i: 1 + i % 2 for i in range(16)}  # 24 wanted, 7 good units

    def work(i):
        if i % 5 == 4:
            backorders_allocate(product_id=Product.objects.get(sku="VACCINE").pk)
        else:
            _place("VACCINE", i, demand[i])

    assert run_threads(16, work) == []
    per_lot = dict(
        LotAllocation.objects.values("lot__number").annotate(n=Sum("quantity")).values_list("lot__number", "n")
    )
    assert per_lot == {"A": 3, "B": 4}  # every good unit handed out exactly once, no short-dated one
    for lot in Lot.objects.all():
        assert lot.allocated == per_lot.get(lot.number, 0) <= lot.on_hand
    assert OrderLine.objects.aggregate(n=Sum("quantity_allocated"))["n"] == 7
    assert integrity_problems() == []
