"""The two readers of an ETA recompute (``backorders.eta_changes``) return the same changes: the Python one, which
projects every waiting row with ``eta_project``, and the PostgreSQL one, which sends the projection as steps over the
cumulative demand and lets the database apply them. Checked over many random queues (priorities, ties, partly
allocated or cancelled rows, dates already written, standing lead-time estimates past and future) and supplies (free
stock, purchase-order lines dated before and after today, units in transit, measured slips, lines that come in parts,
quoted and measured lead times, none at all)."""

from __future__ import annotations

import random
from bisect import bisect_left
from datetime import timedelta

import pytest
from django.utils import timezone

from backorders.eta import eta_recompute_product
from backorders.eta_changes import eta_changes_in_database, eta_changes_in_python, eta_queue_rows
from backorders.models import Backorder
from backorders.projection import Supply, eta_project, eta_steps, supply_build, supply_read
from backorders.supply import Measured, SupplyPromises, SupplyRead
from tests.suppliers.factories import PurchaseOrderLineFactory

pytestmark = pytest.mark.postgres

BASES = [basis.value for basis in Backorder.EtaBasis]


def _random_supply(rng: random.Random, line_ids: list[int], today) -> Supply:
    incoming = []
    for line_id in rng.sample(line_ids, rng.randint(0, len(line_ids))):
        incoming.append((line_id, today + timedelta(days=rng.randint(-5, 40)), rng.randint(0, 12)))
    for _ in range(rng.randint(0, 2)):  # units in transit between warehouses: no line id
        incoming.append((None, today + timedelta(days=rng.randint(0, 10)), rng.randint(1, 8)))
    slips, shares = {}, {}
    for line_id, _, _ in incoming:
        if line_id is not None and rng.random() < 0.5:
            slips[line_id] = Measured(rng.randint(-2, 15), rng.choice([0.75, 0.9, 0.95, 1.0]), rng.randint(3, 40))
            if rng.random() < 0.4:
                shares[line_id] = ((0.5, Measured(rng.randint(-1, 4), 0.9, 10)),)
    lead_time = Measured(rng.randint(5, 60), 0.9, 12) if rng.random() < 0.3 else None
    read = SupplyRead(
        incoming=incoming,
        lead_time_days=rng.choice([None, 14, 30]),
        promises=SupplyPromises(slips=slips, lead_time=lead_time, overdue_units=rng.randint(0, 3), shares=shares),
    )
    return supply_build(free=rng.choice([0, 0, 3, 10, 25]), read=read, today=today)


def _scramble(rng: random.Random, backorders: list[Backorder], line_ids: list[int], today) -> None:
    """Random queue order (with ties), partly allocated or cancelled rows and dates already written."""
    for backorder in backorders:
        backorder.priority_rank = rng.choice([1, 1, 2])
        backorder.priority_score = rng.choice([0, 0, 5])
        backorder.placed_at = timezone.now() - timedelta(hours=rng.choice([1, 1, 2, 3]))
        backorder.quantity_allocated = rng.randint(0, backorder.quantity - 1)
        backorder.quantity_cancelled = rng.randint(0, backorder.quantity - 1 - backorder.quantity_allocated)
        if rng.random() < 0.3:
            backorder.eta, backorder.eta_basis, backorder.eta_purchase_order_line_id = None, "none", None
            backorder.eta_expected = backorder.eta_confidence = None
        else:
            backorder.eta = today + timedelta(days=rng.randint(-3, 45))
            backorder.eta_basis = rng.choice(BASES)
            backorder.eta_purchase_order_line_id = rng.choice([None, *line_ids])
            backorder.eta_expected = rng.choice([None, backorder.eta])
            backorder.eta_confidence = rng.choice([None, 0.9, 1.0])
        backorder.eta_first = rng.choice([None, backorder.eta])
    fields = ["priority_rank", "priority_score", "placed_at", "quantity_allocated", "quantity_cancelled", "eta",
              "eta_basis", "eta_purchase_order_line_id", "eta_expected", "eta_confidence", "eta_first"]  # fmt: skip
    Backorder.objects.bulk_update(backorders, fields)


def test_the_database_reader_returns_what_the_python_reader_returns(make_product, place):
    product = make_product()
    rng = random.Random(20261203)
    for _ in range(24):
        place({product.sku: rng.randint(1, 6)})
    line_ids = [PurchaseOrderLineFactory(product=product).pk for _ in range(5)]
    backorders = list(Backorder.objects.filter(product=product))
    today = timezone.localdate()
    moved = 0
    for _ in range(150):
        _scramble(rng, backorders, line_ids, today)
        supply = _random_supply(rng, line_ids, today)
        expected = eta_changes_in_python(eta_queue_rows(product.pk), supply=supply, today=today)
        assert eta_changes_in_database(product_id=product.pk, supply=supply, today=today) == expected
        moved += len(expected)
    assert moved > 500  # the scenarios move dates (and leave some alone)


def test_steps_give_every_demand_its_projection():
    rng = random.Random(7)
    today = timezone.localdate()
    for _ in range(200):
        supply = _random_supply(rng, list(range(1, 8)), today)
        bounds, values = eta_steps(supply, today)
        demands = list(range(1, 120))
        projected = [tuple(value[:5]) for value in eta_project(demands, supply, today)]
        assert [values[bisect_left(bounds, demand)] for demand in demands] == projected


def test_a_steady_recompute_reads_back_nothing(make_product, place):
    product = make_product()
    for quantity in (2, 3, 4):
        place({product.sku: quantity})
    PurchaseOrderLineFactory(product=product, quantity_ordered=5)  # dates the first two (2 + 3 units)
    assert eta_recompute_product(product_id=product.pk) == 2
    today = timezone.localdate()
    assert eta_changes_in_database(product_id=product.pk, supply=supply_read(product.pk, today), today=today) == []
    assert eta_recompute_product(product_id=product.pk) == 0
