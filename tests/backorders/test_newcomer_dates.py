"""A newcomer's dates and reasons are read in one round trip for every short line (eta.etas_for_newcomers), through
the supply port's batched reads: the same supply as the port's per-product functions, the same dates as projecting
the demand ahead one product at a time."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.db import connection
from django.db.models import F, Sum
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from backorders import supply as port
from backorders.eta import etas_for_newcomers
from backorders.models import PRIORITY_RANKS, Backorder
from backorders.projection import Supply, eta_project, supplies_read
from backorders.queue import ahead_of
from backorders.reasons import backorder_reasons
from tests.backorders.test_promises import _history
from tests.suppliers.factories import PurchaseOrderLineFactory, SupplierFactory, SupplierProductFactory

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]
TODAY = timezone.localdate


def _port_supply(product_id, today):
    """The supply as the port's per-product functions give it (what projection read before the batched reads)."""
    from inventory.models import StockItem

    free = (
        StockItem.objects.sellable()
        .filter(product_id=product_id, on_hand__gt=F("allocated"))
        .aggregate(units=Sum(F("on_hand") - F("allocated")))
        .get("units")
        or 0
    )
    lines = sorted(
        ((pk, max(expected, today), units) for pk, expected, units in port.incoming_supply(product_id)),
        key=lambda line: (line[1], line[0]),
    )
    promises = port.supply_promises(product_id, service_level=settings.OMS["ETA_SERVICE_LEVEL"], today=today)
    return Supply(free=free, lines=lines, lead_time_days=port.lead_time_days(product_id), promises=promises)


@pytest.fixture
def products(make_product, place):
    measured, quoted, dated, bare = (make_product(stock=s) for s in (0, 2, 0, 0))
    slow, fast = SupplierFactory(), SupplierFactory()
    _history(slow, measured, on_time=8, late=4)  # measured: promises carry the learned slip
    SupplierProductFactory(supplier=slow, product=measured, lead_time_days=20, preferred=False)
    SupplierProductFactory(supplier=fast, product=measured, lead_time_days=9, preferred=False)
    PurchaseOrderLineFactory(product=measured, purchase_order__supplier=slow, quantity_ordered=5)
    PurchaseOrderLineFactory(
        product=measured, purchase_order__supplier=fast, quantity_ordered=4,
        purchase_order__expected_date=TODAY() - timedelta(days=2),
    )  # fmt: skip
    SupplierProductFactory(product=quoted, lead_time_days=12)
    PurchaseOrderLineFactory(product=dated, quantity_ordered=3)
    for product in (measured, quoted, dated, bare):
        place({product.sku: 3})  # a queue ahead of the newcomer
    return measured, quoted, dated, bare


def test_the_batched_supply_is_the_ports_per_product_supply(products):
    supplies = supplies_read([p.pk for p in products], TODAY())
    for product in products:
        assert supplies[product.pk] == _port_supply(product.pk, TODAY())
    assert supplies[products[0].pk].promises.slips, "the measured product's slips were learned"


def test_newcomer_dates_in_one_round_trip_agree_with_projecting_each_line(products):
    placed_at = timezone.now()
    rank, score = PRIORITY_RANKS["normal"], Decimal("0.0000")
    lines = [(p.pk, 2 + i, 5 + i) for i, p in enumerate(products)]
    supplies_read([p.pk for p in products], TODAY())  # warms the history cache, as a worker's would
    with CaptureQueriesContext(connection) as captured:
        etas = etas_for_newcomers(lines=lines, priority_rank=rank, priority_score=score, placed_at=placed_at)
    assert len(captured) == 1
    # The statement was kept for this shape (no date or time computed while building): later calls build nothing.
    from core.sql import _PREPARED

    assert any(isinstance(v, tuple) for k, v in _PREPARED.items() if k[0][0] == "eta.newcomers")
    for (product_id, shortfall, _), eta in zip(lines, etas, strict=True):
        ahead = (
            Backorder.objects.filter(product_id=product_id, status__in=Backorder.WAITING)
            .filter(ahead_of(priority_rank=rank, priority_score=score, placed_at=placed_at))
            .aggregate(units=Sum(F("quantity") - F("quantity_allocated") - F("quantity_cancelled")))["units"]
            or 0
        )
        [expected] = eta_project([ahead + shortfall], _port_supply(product_id, TODAY()), TODAY())
        assert tuple(eta[:6]) == tuple(expected)
    # The reasons are the reasons' rules on the same facts (here none depends on this order's own units).
    assert {pk: eta.reason for (pk, _, _), eta in zip(lines, etas, strict=True)} == backorder_reasons(
        overdue_units={pk: eta.overdue_units for (pk, _, _), eta in zip(lines, etas, strict=True)}
    )


def test_a_source_without_batched_reads_is_asked_per_product(products):
    extra = port.SupplySource(name="test-extra", incoming=lambda pk: [(999, TODAY(), 7)], lead_time_days=lambda pk: 3)
    port.supply_source_register(extra)
    try:
        supplies = supplies_read([p.pk for p in products], TODAY())
        for product in products:
            assert supplies[product.pk] == _port_supply(product.pk, TODAY())
            assert (999, TODAY(), 7) in supplies[product.pk].lines
    finally:
        port._sources.pop("test-extra")


def test_one_message_recomputes_the_etas_of_every_product_it_names(make_product, place):
    """An order's short lines ask for their recomputes in one message (eta_request(one_message=True))."""
    from backorders.tasks import eta_recompute_products

    first, second = make_product(stock=0), make_product(stock=0)
    place({first.sku: 2, second.sku: 1})
    for product in (first, second):
        PurchaseOrderLineFactory(product=product, quantity_ordered=5)
    assert eta_recompute_products([first.pk, second.pk]) == 2
    assert set(Backorder.objects.values_list("eta_basis", flat=True)) == {"purchase_order"}
