"""The cost of backorders: every figure against a hand-built fixture, through the report, the API, the page and CSV."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from backorders.models import Backorder
from notifications.models import Incentive
from suppliers.services import purchase_order_revise_dates
from tests.suppliers.factories import PurchaseOrderLineFactory, SupplierFactory, SupplierProductFactory

pytestmark = pytest.mark.django_db
TODAY = timezone.localdate


@pytest.fixture
def fixture(make_product, place):
    """A: 4 × 10.00 on product P1 (supplier S1 through its PO), 1 cancelled, 3 reserved exactly 10 days after it
    was created, SLA breached, a 5.00 incentive. B: 2 × 20.00 on P2 (preferred supplier S2), still waiting after
    exactly 5 days, reason supplier_delay. C: created 60 days ago (outside the range). A 25.00 expedite on P1's PO."""
    now = timezone.now()
    s1, s2 = SupplierFactory(code="s1"), SupplierFactory(code="s2")
    p1 = make_product(sku="P1", unit_price=Decimal("10.00"))
    p2 = make_product(sku="P2", unit_price=Decimal("20.00"))
    SupplierProductFactory(supplier=s2, product=p2, preferred=True)
    line = PurchaseOrderLineFactory(product=p1, purchase_order__supplier=s1, quantity_ordered=10)
    a = Backorder.objects.get(order=place({"P1": 4}))
    b = Backorder.objects.get(order=place({"P2": 2}))
    c = Backorder.objects.get(order=place({"P1": 1}))
    Backorder.objects.filter(pk=a.pk).update(
        created_at=now - timedelta(days=20), allocated_at=now - timedelta(days=10), status="allocated",
        quantity_allocated=3, quantity_cancelled=1, sla_breached=True, eta_purchase_order_line=line,
    )  # fmt: skip
    Backorder.objects.filter(pk=b.pk).update(created_at=now - timedelta(days=5), reason="supplier_delay")
    Backorder.objects.filter(pk=c.pk).update(created_at=now - timedelta(days=60))
    Incentive.objects.create(backorder=a, kind="discount_code", code="THANKS-A", amount=Decimal("5.00"))
    purchase_order_revise_dates(
        purchase_order=line.purchase_order, reason="air freight", expected_date=TODAY() + timedelta(days=2),
        expedite_cost=Decimal("25.00"),
    )  # fmt: skip
    return {"start": TODAY() - timedelta(days=30), "end": TODAY()}


P1 = {
    "key": "P1", "backorders": 1, "units": 4, "revenue_delayed": "30.00", "revenue_lost": "10.00",
    "incentives": "5.00", "expedite_cost": "25.00", "carrying_cost": "0.16", "sla_breaches": 1,
}  # fmt: skip  # carrying: 3 × 10.00 waited 10 days at 20 % a year = 30 × 10 × 0.2 / 365 = 0.164
P2 = {
    "key": "P2", "backorders": 1, "units": 2, "revenue_delayed": "40.00", "revenue_lost": "0.00",
    "incentives": "0.00", "expedite_cost": "0.00", "carrying_cost": "0.11", "sla_breaches": 0,
}  # fmt: skip  # carrying: 2 × 20.00 waiting 5 days = 40 × 5 × 0.2 / 365 = 0.1096


def test_every_figure_by_product_matches_the_fixture(fixture, staff_client):
    response = staff_client.get("/api/v1/reports/backorder-cost/", {**fixture, "group_by": "product"})
    assert response.status_code == 200
    body = response.json()
    assert body["rows"] == [P1, P2]
    assert body["totals"] == {
        "backorders": 2, "units": 6, "revenue_delayed": "70.00", "revenue_lost": "10.00", "incentives": "5.00",
        "expedite_cost": "25.00", "carrying_cost": "0.27", "sla_breaches": 1,
    }  # fmt: skip


def test_grouped_by_supplier_reason_and_channel(fixture, staff_client):
    def rows(group_by):
        body = staff_client.get("/api/v1/reports/backorder-cost/", {**fixture, "group_by": group_by}).json()
        return {row["key"]: row for row in body["rows"]}

    by_supplier = rows("supplier")
    assert by_supplier["s1"] == {**P1, "key": "s1"}  # A's date came from s1's purchase order
    assert by_supplier["s2"] == {**P2, "key": "s2"}  # B: the product's preferred supplier
    by_reason = rows("reason")
    assert by_reason["stockout"]["revenue_lost"] == "10.00"
    assert by_reason["supplier_delay"]["revenue_delayed"] == "40.00"
    assert by_reason[None]["expedite_cost"] == "25.00"  # not attributable to a reason
    by_channel = rows("channel")
    assert by_channel[None]["backorders"] == 2  # placed without a sales channel


def test_bad_ranges_are_refused_and_channels_cannot_see_it(fixture, staff_client, channel_client):
    response = staff_client.get("/api/v1/reports/backorder-cost/", {"start": TODAY(), "end": TODAY() - timedelta(1)})
    assert response.status_code == 422 and response.json()["code"] == "date_out_of_range"
    assert response["Content-Type"].startswith("application/problem+json")
    assert staff_client.get("/api/v1/reports/backorder-cost/", {**fixture, "group_by": "colour"}).status_code == 400
    assert staff_client.get("/api/v1/reports/backorder-cost/").status_code == 400
    assert channel_client.get("/api/v1/reports/backorder-cost/", fixture).status_code in (401, 403)


def test_dashboard_page_and_csv(fixture, client, staff_user):
    client.force_login(staff_user)
    page = client.get("/reports/backorder-cost/", fixture)
    assert page.status_code == 200
    assert b"P1" in page.content and b"25.00" in page.content
    export = client.get("/reports/backorder-cost/", {**fixture, "format": "csv"})
    lines = b"".join(export.streaming_content).decode().strip().splitlines()
    assert lines[0].startswith("product,backorders,units,revenue_delayed")
    assert lines[1] == "P1,1,4,30.00,10.00,5.00,25.00,0.16,1"
    assert lines[-1] == "total,2,6,70.00,10.00,5.00,25.00,0.27,1"
