"""Purchase orders with their lines: one row per line, rows sharing a PO number are one purchase order."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core.errors import InvalidInput
from inventory.models import Product, Warehouse
from suppliers.models import PurchaseOrder, Supplier
from suppliers.services import (
    PurchaseOrderLineRequest,
    purchase_order_create,
    purchase_order_revise_dates,
    purchase_order_send,
)

from .base import CODE, Column, Kind, RowError, boolean, choice, integer, iso_date, text

IMPORT_REASON = "Purchase order import"


class PurchaseOrdersKind(Kind):
    permissions = ("suppliers.add_purchaseorder", "suppliers.change_purchaseorder")
    ignored = ("quantity_received", "confirmed_at", "updated_at")
    name = "purchase_orders"
    title = "Purchase orders"
    description = (
        "One row per line; rows with the same number are one purchase order. A new number creates the order (sent "
        "when status is sent); an existing one may move its dates (revision rows, ETAs, customers told) or be sent. "
        "Its supplier, warehouse and lines change in the OMS, not by import."
    )
    key = ("number",)
    grouped = True
    header_columns = ("supplier", "warehouse", "expected_date", "status", "expedite", "notes")
    line_key = ("sku",)
    columns = [
        Column("number", CODE, required=True, help="The purchase order number (natural key).", example="PO-1001"),
        Column("supplier", text(50), required=True, help="Supplier code.", example="acme"),
        Column("warehouse", text(32), required=True, help="Warehouse code receiving it.", example="MAIN"),
        Column(
            "expected_date",
            iso_date,
            required=True,
            help="YYYY-MM-DD, between today and the horizon.",
            example=(timezone.localdate() + timedelta(days=14)).isoformat(),
        ),
        Column(
            "status",
            choice(["draft", "sent"]),
            default="draft",
            help="draft or sent (only sent is incoming).",
            example="sent",
        ),
        Column("expedite", boolean, default=False, help="true/false.", example="false"),
        Column("notes", text(2000), default="", help="Free text.", example=""),
        Column("sku", CODE, required=True, help="Line: product SKU.", example="CHAIR-ERGO"),
        Column("quantity", integer(1, 1_000_000), required=True, help="Line: units ordered.", example="20"),
        Column("line_expected_date", iso_date, help="Line: its own date if not the order's.", example=""),
    ]

    def plan(self, records):
        today = timezone.localdate()
        horizon = today + timedelta(days=settings.OMS["PO_HORIZON_DAYS"])
        existing = {
            po.number: po
            for po in PurchaseOrder.objects.filter(number__in=[r.key for r in records])
            .select_related("supplier", "warehouse")
            .prefetch_related("lines__product")
        }
        suppliers = set(
            Supplier.objects.filter(code__in={r.data["supplier"] for r in records}).values_list("code", flat=True)
        )
        warehouses = set(
            Warehouse.objects.filter(code__in={r.data["warehouse"] for r in records}).values_list("code", flat=True)
        )
        skus = set(
            Product.objects.filter(sku__in={line["sku"] for r in records for line in r.extra["lines"]}).values_list(
                "sku", flat=True
            )
        )
        errors = {}
        for index, record in enumerate(records):
            head, lines, first = record.data, record.extra["lines"], record.rows[0]
            problems = []
            if head["supplier"] not in suppliers:
                problems.append(
                    RowError(first, "supplier", "unknown_supplier", f"Unknown supplier {head['supplier']!r}.")
                )
            if head["warehouse"] not in warehouses:
                problems.append(
                    RowError(first, "warehouse", "unknown_warehouse", f"Unknown warehouse {head['warehouse']!r}.")
                )
            for line in lines:
                if line["sku"] not in skus:
                    problems.append(RowError(line["row"], "sku", "unknown_sku", f"Unknown SKU {line['sku']!r}."))
            dates = [("expected_date", first, head["expected_date"])] + [
                ("line_expected_date", line["row"], line["line_expected_date"])
                for line in lines
                if line["line_expected_date"]
            ]
            current = existing.get(record.key)
            record.current = current
            if current is None:
                record.action = "create"
            else:
                problems += self._compare(record, current)
                by_sku = {line["sku"]: line["row"] for line in lines}
                dates = (
                    [("expected_date", first, head["expected_date"])]
                    if head["expected_date"] != current.expected_date
                    else []
                )
                dates += [
                    ("line_expected_date", by_sku[sku], value)
                    for sku, value in record.extra.get("line_dates", {}).items()
                ]
            for column, row, value in dates:
                if not today <= value <= horizon:
                    problems.append(
                        RowError(
                            row,
                            column,
                            "date_out_of_range",
                            f"Must be between {today.isoformat()} and {horizon.isoformat()}.",
                        )
                    )
            if problems:
                errors[index] = problems
        return errors

    def _compare(self, record, current: PurchaseOrder) -> list[RowError]:
        head, first = record.data, record.rows[0]
        if current.supplier.code != head["supplier"] or current.warehouse.code != head["warehouse"]:
            return [
                RowError(
                    first,
                    "supplier",
                    "purchase_order_differs",
                    f"{current.number} exists for {current.supplier.code} at {current.warehouse.code}; "
                    "its supplier and warehouse cannot change by import.",
                )
            ]
        ordered = {line.product.sku: line for line in current.lines.all()}
        wanted = {line["sku"]: line for line in record.extra["lines"]}
        if {sku: line.quantity_ordered for sku, line in ordered.items()} != {
            s: w["quantity"] for s, w in wanted.items()
        }:
            return [
                RowError(
                    first,
                    "quantity",
                    "purchase_order_differs",
                    f"{current.number} exists with other lines or quantities; change them in the OMS.",
                )
            ]
        if current.status in (PurchaseOrder.Status.RECEIVED, PurchaseOrder.Status.CANCELLED):
            record.action = "unchanged"
            return []
        line_dates = {}
        for sku, line in wanted.items():
            target = line["line_expected_date"] or head["expected_date"]
            if ordered[sku].quantity_outstanding > 0 and ordered[sku].expected_date != target:
                line_dates[sku] = target
        send = head["status"] == "sent" and current.status == PurchaseOrder.Status.DRAFT
        date_moves = head["expected_date"] != current.expected_date
        record.extra.update(line_dates=line_dates, send=send)
        record.action = "update" if (line_dates or send or date_moves) else "unchanged"
        return []

    @transaction.atomic
    def write_one(self, record, *, user):
        head, lines = record.data, record.extra["lines"]
        if record.current is None:
            purchase_order_create(
                number=record.key,
                supplier_code=head["supplier"],
                warehouse_code=head["warehouse"],
                expected_date=head["expected_date"],
                lines=[PurchaseOrderLineRequest(x["sku"], x["quantity"], x["line_expected_date"]) for x in lines],
                notes=head["notes"] or "",
                expedite=bool(head["expedite"]),
                send=head["status"] == "sent",
                user=user,
            )
            return
        purchase_order = record.current
        if record.extra.get("send"):
            purchase_order = purchase_order_send(purchase_order=purchase_order, user=user)
        line_dates = record.extra.get("line_dates") or {}
        if line_dates or head["expected_date"] != purchase_order.expected_date:
            purchase_order_revise_dates(
                purchase_order=purchase_order,
                reason=IMPORT_REASON,
                lines=line_dates,
                expected_date=head["expected_date"] if head["expected_date"] != purchase_order.expected_date else None,
                user=user,
            )
        elif not record.extra.get("send"):
            raise InvalidInput("Nothing to change.")
