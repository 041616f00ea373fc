"""Imports through the services: upsert by natural key, dry run, all-or-nothing, partial, per-row errors, formats."""

import io
import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from openpyxl import Workbook

from backorders.models import Backorder
from exchange.imports import import_run
from inventory.models import Product, StockItem, StockMovement
from orders.models import Customer, Order
from suppliers.models import PurchaseOrder, Supplier, SupplierProduct

pytestmark = pytest.mark.django_db


def csv_bytes(text: str, *, bom: bool = False) -> bytes:
    return (("\ufeff" if bom else "") + text).encode()


def test_products_upsert_then_reimport_changes_nothing_and_says_so():
    content = csv_bytes("sku,name,unit_price\nA-1,Chair,10.50\nA-2,Desk,99\n")
    first = import_run(kind="products", content=content, file_format="csv")
    assert (first.status, first.created, first.updated, first.refused) == ("succeeded", 2, 0, 0)
    assert Product.objects.get(sku="A-1").unit_price == Decimal("10.50")
    stamp = Product.objects.get(sku="A-1").updated_at
    again = import_run(kind="products", content=content, file_format="csv")
    assert (again.status, again.created, again.updated, again.unchanged) == ("succeeded", 0, 0, 2)
    assert again.message.startswith("Nothing to change")
    assert Product.objects.get(sku="A-1").updated_at == stamp
    changed = import_run(kind="products", content=csv_bytes("sku;unit_price\nA-1;12,00\n"), file_format="csv")
    assert (changed.created, changed.updated) == (0, 1)
    product = Product.objects.get(sku="A-1")
    assert (product.unit_price, product.name) == (Decimal("12.00"), "Chair")  # a column left out keeps its value


def test_csv_with_bom_and_semicolons():
    result = import_run(
        kind="products", content=csv_bytes("SKU;Name;Unit price\nB-1;Lamp;5\n", bom=True), file_format="csv"
    )
    assert result.status == "succeeded", result.errors
    assert Product.objects.filter(sku="B-1", name="Lamp").exists()


def test_dry_run_reports_and_writes_nothing():
    Product.objects.create(sku="C-1", name="Old", unit_price=1)
    result = import_run(
        kind="products",
        content=csv_bytes("sku,name,unit_price\nC-1,New,1\nC-2,Other,2\nC-3,,x\n"),
        file_format="csv",
        dry_run=True,
    )
    assert (result.created, result.updated, result.refused) == (1, 1, 1)
    assert result.message.startswith("Dry run")
    assert {(e.row, e.column, e.code) for e in result.errors} == {(4, "unit_price", "not_a_number")}
    assert Product.objects.get(sku="C-1").name == "Old"
    assert not Product.objects.filter(sku="C-2").exists()


def test_all_or_nothing_by_default_and_partial_writes_the_good_rows():
    content = csv_bytes("sku,name,unit_price\nD-1,Good,1\nD-2,Bad,-5\nD-1,Twice,1\n")
    refused = import_run(kind="products", content=content, file_format="csv")
    assert refused.status == "refused"
    assert not Product.objects.filter(sku__startswith="D-").exists()
    errors = [e.as_dict() for e in refused.errors]
    assert {k: errors[0][k] for k in ("row", "column", "code")} == {
        "row": 3,
        "column": "unit_price",
        "code": "out_of_range",
    }
    assert errors[1]["code"] == "duplicate_key" and errors[1]["row"] == 4
    assert all(e["message"] for e in errors)
    partial = import_run(kind="products", content=content, file_format="csv", partial=True)
    assert (partial.status, partial.created, partial.refused) == ("partial", 1, 2)
    assert list(Product.objects.filter(sku__startswith="D-").values_list("sku", flat=True)) == ["D-1"]


def test_unknown_and_missing_columns_refuse_the_file():
    result = import_run(kind="products", content=csv_bytes("sku,colour\nE-1,red\n"), file_format="csv")
    assert result.status == "refused"
    assert {(e.row, e.column, e.code) for e in result.errors} == {(1, "colour", "unknown_column")}
    result = import_run(kind="stock_counts", content=csv_bytes("sku,warehouse\nE-1,MAIN\n"), file_format="csv")
    assert {(e.column, e.code) for e in result.errors} == {("counted", "missing_column")}


def test_xlsx_and_jsonl():
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["sku", "name", "unit_price", "backorderable"])
    sheet.append(["X-1", "From Excel", 3.5, False])
    buffer = io.BytesIO()
    workbook.save(buffer)
    result = import_run(kind="products", content=buffer.getvalue(), file_format="xlsx")
    assert result.status == "succeeded", result.errors
    assert Product.objects.get(sku="X-1").backorderable is False
    lines = "\n".join(json.dumps(r) for r in [{"sku": "J-1", "name": "Json", "unit_price": "2.25"}])
    assert import_run(kind="products", content=lines.encode(), file_format="jsonl").created == 1
    bad = import_run(kind="products", content=b"not json\n", file_format="jsonl")
    assert bad.status == "failed" and bad.errors[0].code == "unreadable_file"
    assert import_run(kind="products", content=b"PK\x03\x04junk", file_format="xlsx").status == "failed"


def test_stock_counts_become_signed_ledger_adjustments(
    make_product, warehouse, place, django_capture_on_commit_callbacks
):
    make_product(stock=5, sku="S-UP")
    make_product(stock=10, sku="S-DOWN")
    same = make_product(stock=3, sku="S-SAME")
    waiting = make_product(sku="S-WAIT")
    place({waiting.sku: 2})
    content = csv_bytes("sku,warehouse,counted\nS-UP,MAIN,8\nS-DOWN,MAIN,4\nS-SAME,MAIN,3\nS-WAIT,MAIN,6\n")
    dry = import_run(kind="stock_counts", content=content, file_format="csv", dry_run=True)
    assert (dry.created, dry.updated, dry.unchanged) == (1, 2, 1)  # S-WAIT had no stock row yet
    with django_capture_on_commit_callbacks(execute=True):
        result = import_run(kind="stock_counts", content=content, file_format="csv")
    assert result.status == "succeeded", result.errors
    moves = dict(
        StockMovement.objects.filter(reason__startswith="Stock count").values_list(
            "stock_item__product__sku", "quantity"
        )
    )
    assert moves == {"S-UP": 3, "S-DOWN": -6, "S-WAIT": 6}
    assert StockItem.objects.get(product=same).on_hand == 3
    # The found units went to the waiting backorder through the normal allocation path.
    assert Backorder.objects.get(product=waiting).status == "allocated"
    again = import_run(kind="stock_counts", content=content, file_format="csv")
    assert (again.status, again.unchanged, again.updated) == ("succeeded", 4, 0)


def test_a_count_below_reserved_units_is_refused(make_product, place):
    product = make_product(stock=10, sku="R-1")
    make_product(stock=1, sku="R-2")
    place({product.sku: 7})
    result = import_run(
        kind="stock_counts", content=csv_bytes("sku,warehouse,counted\nR-2,MAIN,5\nR-1,MAIN,6\n"), file_format="csv"
    )
    assert result.status == "refused"
    assert [(e.row, e.column, e.code) for e in result.errors] == [(3, "counted", "count_below_allocated")]
    assert StockItem.objects.get(product__sku="R-2").on_hand == 1  # all or nothing


def test_suppliers_supplier_products_and_purchase_orders(make_product, warehouse):
    make_product(sku="P-1")
    make_product(sku="P-2")
    assert (
        import_run(
            kind="suppliers", content=csv_bytes("code,name,email\nacme,Acme,o@acme.test\n"), file_format="csv"
        ).created
        == 1
    )
    result = import_run(
        kind="supplier_products",
        content=csv_bytes("supplier,sku,lead_time_days,preferred\nacme,P-1,21,true\nacme,NOPE,5,false\n"),
        file_format="csv",
        partial=True,
    )
    assert (result.created, result.refused) == (1, 1)
    assert result.errors[0].code == "unknown_sku"
    assert SupplierProduct.objects.get().lead_time_days == 21
    soon = (timezone.localdate() + timedelta(days=10)).isoformat()
    later = (timezone.localdate() + timedelta(days=20)).isoformat()
    po = (
        "number,supplier,warehouse,expected_date,status,sku,quantity\n"
        f"PO-9,acme,MAIN,{soon},sent,P-1,5\nPO-9,acme,MAIN,{soon},sent,P-2,7\n"
    )
    assert import_run(kind="purchase_orders", content=csv_bytes(po), file_format="csv").created == 1
    order = PurchaseOrder.objects.get(number="PO-9")
    assert order.status == "sent" and order.lines.count() == 2
    assert import_run(kind="purchase_orders", content=csv_bytes(po), file_format="csv").unchanged == 1
    moved = import_run(kind="purchase_orders", content=csv_bytes(po.replace(soon, later)), file_format="csv")
    assert moved.updated == 1, moved.errors
    order.refresh_from_db()
    assert order.expected_date.isoformat() == later
    assert order.lines.first().date_revisions.count() == 1  # through the date-revision service
    differs = import_run(kind="purchase_orders", content=csv_bytes(po.replace(",7\n", ",8\n")), file_format="csv")
    assert differs.status == "refused" and differs.errors[0].code == "purchase_order_differs"
    assert Supplier.objects.count() == 1


def test_customers_with_terms(channel_key):
    content = csv_bytes(
        "external_id,channel,email,name,tier,max_wait_days,sla_days\n"
        "c-1,web-shop,a@x.test,Ann,gold,30,\nc-2,,b@x.test,Bob,standard,,5\n"
    )
    result = import_run(kind="customers", content=content, file_format="csv")
    assert (result.status, result.created) == ("succeeded", 2), result.errors
    ann = Customer.objects.get(external_id="c-1")
    assert (ann.channel.code, ann.tier, ann.terms.max_wait_days, ann.terms.sla_days) == ("web-shop", "gold", 30, None)
    assert import_run(kind="customers", content=content, file_format="csv").unchanged == 2
    bad = import_run(
        kind="customers", content=csv_bytes("external_id,channel,email,name\nc-3,nope,c@x.test,C\n"), file_format="csv"
    )
    assert bad.errors[0].code == "unknown_channel"


def test_open_orders_are_placed_through_order_placement(make_product):
    make_product(stock=3, sku="O-1")
    make_product(stock=0, sku="O-2")
    content = csv_bytes(
        "external_reference,customer_external_id,customer_email,customer_name,sku,quantity\n"
        "ERP-1,cus-1,a@x.test,Ann,O-1,2\nERP-1,cus-1,a@x.test,Ann,O-2,4\nERP-2,cus-2,b@x.test,Bob,O-1,2\n"
    )
    result = import_run(kind="open_orders", content=content, file_format="csv")
    assert (result.status, result.created) == ("succeeded", 2), result.errors
    first = Order.objects.get(external_reference="ERP-1")
    assert first.status == "backordered"
    # Queue order follows the file: ERP-2 got the one unit left, and the rest of its line waits behind ERP-1.
    assert StockItem.objects.get(product__sku="O-1").allocated == 3
    assert Backorder.objects.filter(product__sku="O-2", quantity=4).exists()
    again = import_run(kind="open_orders", content=content, file_format="csv")
    assert (again.unchanged, again.created) == (2, 0)
    assert Order.objects.count() == 2
