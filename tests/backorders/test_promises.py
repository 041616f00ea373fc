"""ETAs from measured supplier behaviour: the lead-time and slip learning, the service-level date, the fallback."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from backorders.eta import eta_recompute_product
from backorders.models import Backorder
from suppliers.lead_times import product_promises, supplier_histories, weighted_quantile
from tests.suppliers.factories import PurchaseOrderLineFactory, SupplierFactory, SupplierProductFactory
from tests.suppliers.history import delivered_line

TODAY = timezone.localdate


def _history(supplier, product, *, on_time: int, late: int, late_by: int = 4, quoted: int = 10):
    """``on_time`` lines delivered on their date and ``late`` lines ``late_by`` days after it."""
    for index in range(on_time + late):
        delivered_line(
            supplier=supplier, product=product, ordered=TODAY() - timedelta(days=60 + index), quoted_days=quoted,
            actual_days=quoted + (late_by if index >= on_time else 0),
        )  # fmt: skip


def _dates(backorder):
    backorder.refresh_from_db()
    return backorder.eta, backorder.eta_basis, backorder.eta_expected, backorder.eta_confidence


def test_weighted_quantile_is_the_smallest_value_covering_the_level():
    samples = [(0, 1.0)] * 9 + [(5, 1.0)]
    assert weighted_quantile(samples, 0.9) == (0, 0.9)
    assert weighted_quantile(samples, 0.95) == (5, 1.0)
    # Weights count: a date that stood longer is a case more often.
    assert weighted_quantile([(0, 1.0), (3, 9.0)], 0.5) == (3, 1.0)
    assert weighted_quantile([(-2, 3.0), (1, 1.0)], 0.75) == (-2, 0.75)


def test_slips_and_lead_times_are_learned_from_receipts_and_revisions(make_product):
    supplier, product = SupplierFactory(), make_product()
    ordered = TODAY() - timedelta(days=50)
    # Promised day 10, moved on day 4 to day 15, delivered day 16: slips 6 (stood 4 days) and 1 (stood 12 days).
    delivered_line(
        supplier=supplier, product=product, ordered=ordered, quoted_days=10, actual_days=16, revised_to=15, revised_on=4
    )
    # Still open, due 5 days ago: counts as at least 5 days late (lead time at least today − order date).
    PurchaseOrderLineFactory(
        product=product, purchase_order__supplier=supplier, purchase_order__order_date=TODAY() - timedelta(days=20),
        purchase_order__expected_date=TODAY() - timedelta(days=5),
    )  # fmt: skip
    history = supplier_histories(supplier_ids=[supplier.pk], today=TODAY())[(supplier.pk, product.pk)]
    assert history.lines == 2
    assert sorted(history.slips) == [(1, 12.0), (5, 20.0), (6, 4.0)]  # the open line's date stood 20 days
    assert sorted(history.lead_times) == [(16, 1.0), (20, 1.0)]


def test_purchase_order_date_plus_measured_slip_at_the_service_level(make_product, place):
    supplier, product = SupplierFactory(), make_product()
    other = make_product()
    _history(supplier, other, on_time=8, late=2, late_by=4)  # supplier level: 10 lines, 2 of them 4 days late
    order = place({product.sku: 3})
    PurchaseOrderLineFactory(
        product=product, purchase_order__supplier=supplier, purchase_order__expected_date=TODAY() + timedelta(days=5)
    )
    eta_recompute_product(product_id=product.pk)
    backorder = Backorder.objects.get(order=order)
    # The cases in its position (past dates that stood 5 days before them): 8 held, 2 were 4 days late: 80 % within
    # 0 days, so the 90 % date is 4 days after the PO's.
    assert _dates(backorder) == (
        TODAY() + timedelta(days=9),
        "purchase_order_history",
        TODAY() + timedelta(days=5),
        1.0,
    )
    assert backorder.eta_first == TODAY() + timedelta(days=9)
    event = backorder.events.filter(kind="eta_changed").last()
    assert event.data["basis"] == "purchase_order_history"

    # A lower service level accepts the risk: the PO's own date.
    with override_settings(OMS={**_oms(), "ETA_SERVICE_LEVEL": 0.7}):
        eta_recompute_product(product_id=product.pk)
    assert _dates(backorder) == (TODAY() + timedelta(days=5), "purchase_order_history", TODAY() + timedelta(days=5),
                                 0.8)  # fmt: skip


def _oms():
    from django.conf import settings

    return dict(settings.OMS)


def test_too_little_history_keeps_the_quoted_date_and_says_so(make_product, place):
    supplier, product = SupplierFactory(), make_product()
    _history(supplier, product, on_time=5, late=4, late_by=10)  # 9 lines: below the minimum of 10
    order = place({product.sku: 1})
    PurchaseOrderLineFactory(
        product=product, purchase_order__supplier=supplier, purchase_order__expected_date=TODAY() + timedelta(days=5)
    )
    eta_recompute_product(product_id=product.pk)
    d5 = TODAY() + timedelta(days=5)
    assert _dates(Backorder.objects.get(order=order)) == (d5, "purchase_order", d5, None)


def test_supplier_product_history_wins_over_the_supplier_average(make_product):
    supplier, product, other = SupplierFactory(), make_product(), make_product()
    _history(supplier, product, on_time=10, late=0)  # this product always on time
    _history(supplier, other, on_time=0, late=10, late_by=7)  # another product always a week late
    line = PurchaseOrderLineFactory(product=product, purchase_order__supplier=supplier)
    other_line = PurchaseOrderLineFactory(product=other, purchase_order__supplier=supplier)
    mine = product_promises(product.pk, 0.9, TODAY()).slips[line.pk]
    theirs = product_promises(other.pk, 0.9, TODAY()).slips[other_line.pk]
    assert (mine.days, mine.scope, mine.samples) == (0, "supplier product", 10)
    assert (theirs.days, theirs.scope) == (7, "supplier product")


def test_measured_lead_time_beyond_known_supply(make_product, place):
    supplier, product = SupplierFactory(), make_product()
    SupplierProductFactory(supplier=supplier, product=product, lead_time_days=14, preferred=True)
    _history(supplier, product, on_time=0, late=10, late_by=6, quoted=14)  # really takes 20 days
    order = place({product.sku: 2})
    backorder = Backorder.objects.get(order=order)
    # Placement already promises the measured date (the "created" message carries it).
    assert _dates(backorder) == (TODAY() + timedelta(days=20), "lead_time_history", TODAY() + timedelta(days=14), 1.0)
    assert eta_recompute_product(product_id=product.pk) == 0


def test_every_supplier_of_a_product_is_considered_for_the_lead_time(make_product, place):
    product = make_product()
    slow, quick = SupplierFactory(), SupplierFactory()
    SupplierProductFactory(supplier=slow, product=product, lead_time_days=30, preferred=False)
    SupplierProductFactory(supplier=quick, product=product, lead_time_days=12, preferred=False)
    order = place({product.sku: 1})
    d12 = TODAY() + timedelta(days=12)
    # No preferred supplier: today's rule gave no date; now the shortest quote of the product's suppliers.
    assert _dates(Backorder.objects.get(order=order)) == (d12, "lead_time", d12, None)


@pytest.mark.postgres
def test_the_api_shows_promise_expected_date_and_confidence(make_product, place, staff_client):
    supplier, product = SupplierFactory(), make_product()
    _history(supplier, product, on_time=8, late=2, late_by=4)
    order = place({product.sku: 1})
    PurchaseOrderLineFactory(
        product=product, purchase_order__supplier=supplier, purchase_order__expected_date=TODAY() + timedelta(days=5)
    )
    eta_recompute_product(product_id=product.pk)
    backorder = Backorder.objects.get(order=order)
    body = staff_client.get(f"/api/v1/backorders/{backorder.pk}/").json()
    assert (body["eta"], body["eta_basis"], body["eta_expected"], body["eta_confidence"]) == (
        (TODAY() + timedelta(days=9)).isoformat(), "purchase_order_history", (TODAY() + timedelta(days=5)).isoformat(),
        1.0,
    )  # fmt: skip
    product_body = staff_client.get(f"/api/v1/products/{product.sku}/").json()
    assert product_body["backorder_eta_basis"] == "purchase_order_history"
    assert product_body["backorder_eta_expected"] == (TODAY() + timedelta(days=5)).isoformat()


def test_queue_explanation_names_the_terms(make_product, place, staff_client, channel_client):
    from backorders.services import backorder_priority_change
    from tests.orders.factories import CustomerFactory

    product = make_product()
    first = place({product.sku: 1})
    gold = CustomerFactory(tier="gold")
    second = place({product.sku: 1}, customer=gold)
    third = place({product.sku: 1})
    backorder = Backorder.objects.get(order=third)
    from django.contrib.auth import get_user_model

    backorder_priority_change(
        backorder=Backorder.objects.get(order=first), priority="critical", reason="hospital",
        user=get_user_model().objects.get(username="staff"),
    )  # fmt: skip
    body = staff_client.get(f"/api/v1/backorders/{backorder.pk}/").json()["queue_explanation"]
    assert body["position"] == 3
    assert body["ahead"] == {"higher_priority": 1, "higher_score": 1, "placed_earlier": 0}
    assert body["summary"] == "3rd in line: normal order, placed 0 days ago"
    assert [t["name"] for t in body["terms"]] == ["priority_class", "tier", "customer_value", "waiting_time", "score"]
    gold_view = staff_client.get(f"/api/v1/backorders/{Backorder.objects.get(order=second).pk}/").json()
    assert gold_view["queue_explanation"]["summary"] == "2nd in line: normal order, gold customer, placed 0 days ago"
    assert gold_view["queue_explanation"]["terms"][1]["points"] == "20.00"
    critical = staff_client.get(f"/api/v1/backorders/{Backorder.objects.get(order=first).pk}/").json()
    assert critical["queue_explanation"]["summary"].startswith("1st in line: critical order")


def test_each_allocation_run_is_recorded_and_visible_from_the_receipt(make_product, place, staff_client, warehouse):
    from backorders.models import AllocationRecord
    from backorders.services import allocation_run
    from suppliers import services as supply

    product = make_product()
    orders = [place({product.sku: quantity}) for quantity in (2, 3, 4)]
    supply.supplier_create(code="acme", name="Acme")
    po = supply.purchase_order_create(
        supplier_code="acme", warehouse_code=warehouse.code, expected_date=TODAY() + timedelta(days=3),
        lines=[supply.PurchaseOrderLineRequest(product.sku, 4)], send=True,
    )  # fmt: skip
    supply.purchase_order_receive(purchase_order=po, lines=[supply.ReceiptLineRequest(product.sku, 4)])
    assert allocation_run(product_id=product.pk, max_attempts=5) == 4
    record = AllocationRecord.objects.get(product=product)
    first, second, third = (Backorder.objects.get(order=o) for o in orders)
    assert (record.units_free, record.units_allocated, record.source) == (4, 4, f"receipt {po.number}")
    assert record.served == [
        {"backorder": first.pk, "position": 1, "units": 2, "outstanding_after": 0},
        {"backorder": second.pk, "position": 2, "units": 2, "outstanding_after": 1},
    ]
    why = "the 4 free unit(s) went to the 2 backorder(s) ahead in the queue"
    assert record.passed_over == [{"backorder": third.pk, "position": 2, "waiting": 4, "why": why}]
    assert record.passed_over_count == 1
    runs = staff_client.get(f"/api/v1/purchase-orders/{po.number}/").json()["allocation_runs"]
    assert [(run["units_allocated"], run["passed_over_count"]) for run in runs] == [(4, 1)]
    assert runs[0]["passed_over"][0]["why"] == why
    assert allocation_run(product_id=product.pk, max_attempts=5) == 0  # nothing free: no record
    assert AllocationRecord.objects.count() == 1


def test_the_reason_says_what_caused_the_backorder(make_product, place, warehouse):
    from inventory.services import stock_adjust

    plain, late, held, spiking = (make_product(stock=s) for s in (0, 0, 3, 0))
    PurchaseOrderLineFactory(
        product=late, purchase_order__order_date=TODAY() - timedelta(days=12),
        purchase_order__expected_date=TODAY() - timedelta(days=1),
    )  # fmt: skip
    stock_adjust(sku=held.sku, warehouse_code=warehouse.code, quantity=-3, reason="Quality hold: batch 7 dented")

    def reason(product, units):
        return Backorder.objects.get(order=place({product.sku: units})).reason

    assert reason(plain, 1) == "stockout"
    assert reason(late, 1) == "supplier_delay"  # 10 units due yesterday have not come
    assert reason(held, 1) == "quality_hold"
    assert reason(spiking, 6) == "stockout"  # a first order: no usual level to spike from
    from orders.models import Order

    Order.objects.filter(lines__product=spiking).update(placed_at=timezone.now() - timedelta(days=10))
    assert reason(spiking, 6) == "demand_spike"  # 6 units today against 6 in the 28 days before (0.2 a day)
    assert reason(plain, 2) == "stockout"  # 3 units in a day: below the spike floor of 5


def test_a_line_already_late_is_promised_from_the_cases_that_were_as_late(make_product):
    supplier, product = SupplierFactory(), make_product()
    # 10 lines: 6 on time, 4 delivered 3, 6, 8 and 10 days late (each date stood 10 days, then the lateness).
    for index, late in enumerate([0] * 6 + [3, 6, 8, 10]):
        delivered_line(
            supplier=supplier, product=product, ordered=TODAY() - timedelta(days=80 + index), quoted_days=10,
            actual_days=10 + late,
        )  # fmt: skip
    due = PurchaseOrderLineFactory(product=product, purchase_order__supplier=supplier)
    overdue = PurchaseOrderLineFactory(
        product=product, purchase_order__supplier=supplier, purchase_order__order_date=TODAY() - timedelta(days=15),
        purchase_order__expected_date=TODAY() - timedelta(days=5),
    )  # fmt: skip
    slips = product_promises(product.pk, 0.9, TODAY()).slips
    # Due in 10 days: the 11 past dates that stood 10 days before them (the open one counts as 5 late so far):
    # 0 ×6, 3, 5, 6, 8, 10; a new case stays within the k-th smallest of n with probability k / (n + 1), so at 90 %
    # the ⌈0.9 × 12⌉ = 11th: 10 (the 10th, 8, holds for only 10 / 12 of new cases).
    # 5 days late already: only 3 past dates still stood 5 days after them (too few to say), so of the cases at
    # least that late, weighted by the days each date stood (5, 6, 8, 10 → 0, 1, 3, 5 still to wait; weights 15, 16,
    # 18, 20 of 69): 71 % within 3 more days, so 5.
    assert slips[due.pk].days == 10
    assert slips[overdue.pk].days == 5


def test_a_line_is_promised_from_the_cases_in_its_position(make_product):
    supplier, product = SupplierFactory(), make_product()
    # 10 lines quoted at 10 days: 5 delivered on their date; 5 whose supplier moved the date on day 7 to day 16 and
    # delivered then (6 days after the original date, on the revised one).
    for index in range(10):
        moved = index >= 5
        delivered_line(
            supplier=supplier, product=product, ordered=TODAY() - timedelta(days=80 + index), quoted_days=10,
            actual_days=16 if moved else 10, revised_to=16 if moved else None, revised_on=7 if moved else None,
        )  # fmt: skip

    def line(ordered_ago: int, due_in: int, revised: bool = False):
        return PurchaseOrderLineFactory(
            product=product, purchase_order__supplier=supplier,
            purchase_order__order_date=TODAY() - timedelta(days=ordered_ago),
            purchase_order__expected_date=TODAY() + timedelta(days=due_in),
            original_expected_date=TODAY() + timedelta(days=due_in - (6 if revised else 0)),
        )  # fmt: skip

    just_ordered, unmoved_near, moved_near = line(1, 9), line(8, 2), line(10, 3, revised=True)
    slips = product_promises(product.pk, 0.9, TODAY()).slips
    # 9 days before their date, all 10 past dates stood: half slipped 6 days, so 6.
    assert (slips[just_ordered.pk].days, slips[just_ordered.pk].samples) == (6, 10)
    # 2 days before it, a date never moved held every time (the 5 that slipped had been moved by then): 0.
    assert (slips[unmoved_near.pk].days, slips[unmoved_near.pk].confidence) == (0, 1.0)
    # A moved date 3 days before it: the 5 moved dates that stood then all held: 0 (before, every date's slips
    # together, weighted by the days they stood, said 6).
    assert (slips[moved_near.pk].days, slips[moved_near.pk].samples) == (0, 5)


def test_the_first_part_of_a_line_that_comes_in_parts_is_promised_sooner(make_product, place):
    supplier, product = SupplierFactory(), make_product()
    # 10 lines of 10 units quoted at 10 days: 6 came whole on their date; 4 came 6 units on the date, 4 eight days on.
    for index in range(10):
        delivered_line(
            supplier=supplier, product=product, ordered=TODAY() - timedelta(days=80 + index), quoted_days=10,
            actual_days=18 if index < 4 else 10, first_part=(10, 6) if index < 4 else None,
        )  # fmt: skip
    first, then = place({product.sku: 8}), place({product.sku: 5})
    line = PurchaseOrderLineFactory(
        product=product, purchase_order__supplier=supplier, quantity_ordered=20,
        purchase_order__expected_date=TODAY() + timedelta(days=5),
    )  # fmt: skip
    learned = product_promises(product.pk, 0.9, TODAY())
    # The whole line: 4 of 10 came 8 days late, so 8; a quarter and a half of it always came on the date: 0.
    assert learned.slips[line.pk].days == 8
    assert [(share, measured.days) for share, measured in learned.shares[line.pk]] == [(0.25, 0), (0.5, 0), (0.75, 8)]
    eta_recompute_product(product_id=product.pk)
    d5, d13 = TODAY() + timedelta(days=5), TODAY() + timedelta(days=13)
    # 8 units: within the first half (10 units) of the line: its date. 13: the rest of the line's date.
    assert _dates(Backorder.objects.get(order=first)) == (d5, "purchase_order_history", d5, 1.0)
    assert _dates(Backorder.objects.get(order=then)) == (d13, "purchase_order_history", d5, 1.0)


def test_a_recompute_with_nothing_waiting_reads_no_supply(make_product):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    supplier, product = SupplierFactory(), make_product()
    _history(supplier, product, on_time=10, late=0)
    PurchaseOrderLineFactory(product=product, purchase_order__supplier=supplier)  # a new PO: a recompute request
    with CaptureQueriesContext(connection) as captured:
        assert eta_recompute_product(product_id=product.pk) == 0
    assert not [q["sql"] for q in captured.captured_queries if "suppliers_" in q["sql"]]
