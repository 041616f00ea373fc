"""Supplier scorecard (hand-checked figures), its drill-down, and the shortages page with its draft-PO button."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime

import pytest

from suppliers.models import ExpectedDateRevision, PurchaseOrder, Receipt, ReceiptLine
from suppliers.scorecard import supplier_scorecards
from tests.inventory.factories import ProductFactory
from tests.suppliers.factories import (
    PurchaseOrderFactory,
    PurchaseOrderLineFactory,
    SupplierFactory,
    SupplierProductFactory,
)

from .factories import make_backorder, make_order


def receive(line, quantity: int, on: date) -> None:
    receipt = Receipt.objects.create(purchase_order=line.purchase_order)
    Receipt.objects.filter(pk=receipt.pk).update(received_at=datetime(on.year, on.month, on.day, 12, tzinfo=UTC))
    ReceiptLine.objects.create(receipt=receipt, purchase_order_line=line, quantity=quantity)


@pytest.fixture
def suppliers(db):
    """S1: line A 10/10 on time (9 d actual, 10 d quoted); line B 20/20 late (12 d vs 7 d, one slip);
    line C 4/10 and past due; line D 0/50 due in 2099 (not counted for fill) with one backorder waiting on it;
    a draft PO that counts for nothing. S2: nothing at all."""
    s1 = SupplierFactory(code="s1", name="Alpha Parts")
    SupplierFactory(code="s2", name="Beta Goods")
    po1 = PurchaseOrderFactory(supplier=s1, status="received", order_date=date(2026, 1, 1),
                               expected_date=date(2026, 1, 11))  # fmt: skip
    a = PurchaseOrderLineFactory(purchase_order=po1, quantity_ordered=10, quantity_received=10)
    receive(a, 10, date(2026, 1, 10))
    po2 = PurchaseOrderFactory(supplier=s1, status="partially_received", order_date=date(2026, 2, 1),
                               expected_date=date(2026, 2, 15))  # fmt: skip
    b = PurchaseOrderLineFactory(purchase_order=po2, quantity_ordered=20, quantity_received=20,
                                 expected_date=date(2026, 2, 15), original_expected_date=date(2026, 2, 8))  # fmt: skip
    receive(b, 5, date(2026, 2, 5))
    receive(b, 15, date(2026, 2, 13))
    ExpectedDateRevision.objects.create(line=b, old_date=date(2026, 2, 8), new_date=date(2026, 2, 16))
    ExpectedDateRevision.objects.create(line=b, old_date=date(2026, 2, 16), new_date=date(2026, 2, 15))
    c = PurchaseOrderLineFactory(purchase_order=po2, quantity_ordered=10, quantity_received=4,
                                 expected_date=date(2026, 2, 10), original_expected_date=date(2026, 2, 10))  # fmt: skip
    receive(c, 4, date(2026, 2, 9))
    po3 = PurchaseOrderFactory(supplier=s1, status="sent", order_date=date(2026, 11, 1), expected_date=date(2099, 1, 1))
    d = PurchaseOrderLineFactory(purchase_order=po3, quantity_ordered=50)
    PurchaseOrderLineFactory(purchase_order=PurchaseOrderFactory(supplier=s1, status="draft"), quantity_ordered=99)
    _, (line,) = make_order(placed_at=datetime(2026, 11, 1, tzinfo=UTC), lines=[(d.product, 3, 3)])
    make_backorder(line, created_at=datetime(2026, 11, 1, tzinfo=UTC), eta_basis="purchase_order",
                   eta_purchase_order_line=d, eta=date(2099, 1, 1))  # fmt: skip
    return s1


def test_scorecard_figures(suppliers):
    alpha, beta = supplier_scorecards()  # ordered by name
    assert alpha["supplier"] == suppliers
    assert alpha["lines_delivered"] == 2  # A and B
    assert alpha["on_time_rate"] == 0.5  # A on time, B delivered after its first promised date
    assert alpha["lead_time_actual_days"] == 10.5  # (9 + 12) / 2
    assert alpha["lead_time_quoted_days"] == 8.5  # (10 + 7) / 2
    assert alpha["fill_rate"] == 0.85  # (10 + 20 + 4) / (10 + 20 + 10); D is not due, the draft is ignored
    assert alpha["eta_slips"] == 1  # the move earlier does not count
    assert alpha["backorders_waiting"] == 1
    assert alpha["open_purchase_orders"] == 2
    assert beta["on_time_rate"] is None and beta["fill_rate"] is None and beta["lead_time_actual_days"] is None
    assert (beta["eta_slips"], beta["backorders_waiting"], beta["lines_delivered"]) == (0, 0, 0)


def test_scorecard_page_drill_down_and_csv(client, staff_user, suppliers):
    client.force_login(staff_user)
    html = client.get("/suppliers/").content.decode()
    assert "Alpha Parts" in html and "50 %" in html and "85 %" in html and "10.5 / 8.5 d" in html
    detail = client.get(f"/suppliers/{suppliers.pk}/").content.decode()
    assert detail.count("PO-T-") == 4
    exported = client.get("/suppliers/", {"format": "csv"})
    table = list(csv.reader(io.StringIO(b"".join(exported.streaming_content).decode())))
    assert table[1][:3] == ["s1", "2", "0.5"]
    po_csv = client.get(f"/suppliers/{suppliers.pk}/", {"format": "csv"})
    assert len(list(csv.reader(io.StringIO(b"".join(po_csv.streaming_content).decode())))) == 5


def test_unknown_supplier_is_404(client, staff_user, db):
    client.force_login(staff_user)
    assert client.get("/suppliers/999999/").status_code == 404


@pytest.fixture
def short_product(make_product, place):
    """7 units waiting on KETTLE, 2 on hand, none on order; preferred supplier sells packs of 5."""
    kettle = make_product(sku="KETTLE", stock=2)
    place({"KETTLE": 9})
    SupplierProductFactory(product=kettle, supplier=SupplierFactory(code="kettles"), pack_size=5, lead_time_days=10)
    return kettle


def test_shortages_page_lists_uncovered_demand(client, staff_user, short_product):
    client.force_login(staff_user)
    response = client.get("/shortages/")
    html = response.content.decode()
    assert "KETTLE" in html and "Draft PO" in html
    table = list(csv.reader(io.StringIO(b"".join(client.get("/shortages/", {"format": "csv"}).streaming_content)
                                        .decode())))  # fmt: skip
    row = dict(zip(table[0], table[1], strict=True))
    assert (row["sku"], row["demand"], row["uncovered"], row["suggested_quantity"], row["supplier"]) == (
        "KETTLE", "7", "7", "10", "kettles",
    )  # fmt: skip


def test_draft_po_button_creates_a_draft_through_the_service(client, staff_user, short_product):
    client.force_login(staff_user)
    response = client.post(f"/shortages/{short_product.pk}/draft-po/")
    assert response.status_code == 303
    po = PurchaseOrder.objects.get()
    assert po.status == "draft" and po.supplier.code == "kettles"
    assert po.lines.get().quantity_ordered == 10
    assert f"Draft purchase order {po.number}" in client.get("/shortages/").content.decode()


def test_draft_po_without_shortage_is_refused(client, staff_user, make_product):
    client.force_login(staff_user)
    plenty = make_product(sku="PLENTY", stock=5)
    response = client.post(f"/shortages/{plenty.pk}/draft-po/")
    assert response.status_code == 409
    assert "no uncovered demand" in response.content.decode()
    assert not PurchaseOrder.objects.exists()


def test_shortages_empty_state(client, staff_user, db):
    client.force_login(staff_user)
    ProductFactory()
    assert "No shortages" in client.get("/shortages/").content.decode()
