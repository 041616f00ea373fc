"""Stock counts: a counted quantity per product and warehouse, written as signed ledger adjustments."""

from __future__ import annotations

from core.errors import DomainError
from inventory.exceptions import CountBelowAllocated
from inventory.models import Warehouse
from inventory.selectors import product_ids_by_sku, stock_levels
from inventory.services import StockCount, stock_counts_apply

from .base import CODE, Column, Kind, RecordRefused, RowError, integer, text

COUNT_REASON = "Stock count (import)"


class StockCountsKind(Kind):
    permissions = ("inventory.adjust_stock",)
    ignored = ("allocated", "updated_at")
    name = "stock_counts"
    title = "Stock counts"
    description = (
        "A counted quantity per SKU and warehouse. Each count becomes one ledger adjustment of (counted − on hand); "
        "a count equal to the stock changes nothing. A count below the units reserved for orders is refused."
    )
    key = ("sku", "warehouse")
    columns = [
        Column("sku", CODE, required=True, help="Product SKU.", example="CHAIR-ERGO"),
        Column("warehouse", text(32), required=True, help="Warehouse code.", example="MAIN"),
        Column("counted", integer(0, 1_000_000_000), required=True, help="Units physically counted.", example="42"),
    ]

    def plan(self, records):
        products = product_ids_by_sku(r.data["sku"] for r in records)
        warehouses = dict(
            Warehouse.objects.filter(code__in={r.data["warehouse"] for r in records}).values_list("code", "pk")
        )
        stock = stock_levels(product_ids=products.values(), warehouse_ids=warehouses.values())
        errors: dict[int, list[RowError]] = {}
        for index, record in enumerate(records):
            row, sku, code = record.rows[0], record.data["sku"], record.data["warehouse"]
            problems = []
            if sku not in products:
                problems.append(RowError(row, "sku", "unknown_sku", f"Unknown SKU {sku!r}."))
            if code not in warehouses:
                problems.append(RowError(row, "warehouse", "unknown_warehouse", f"Unknown warehouse {code!r}."))
            if problems:
                errors[index] = problems
                continue
            on_hand, allocated = stock.get((products[sku], warehouses[code]), (0, 0))
            counted = record.data["counted"]
            record.extra = {"on_hand": on_hand, "delta": counted - on_hand}
            if counted < allocated:
                errors[index] = [
                    RowError(
                        row,
                        "counted",
                        CountBelowAllocated.code,
                        f"Counted {counted}, but {allocated} are reserved for orders (ship or release them first).",
                    )
                ]
            elif counted == on_hand:
                record.action = "unchanged"
            else:
                record.action = "update" if (products[sku], warehouses[code]) in stock else "create"
        return errors

    def write(self, records, *, user, partial, progress):
        """One call: every stock item locked at once in key order, the differences taken under the lock."""
        by_key = {(r.data["sku"], r.data["warehouse"]): r for r in records}
        try:
            result = stock_counts_apply(
                counts=[StockCount(sku, wh, r.data["counted"]) for (sku, wh), r in by_key.items()],
                reason=COUNT_REASON,
                reference="import",
                partial=partial,
                user=user,
            )
        except CountBelowAllocated as exc:
            count = exc.details["counts"][0]
            record = by_key[(count["sku"], count["warehouse"])]
            raise RecordRefused(record, [RowError(record.rows[0], "counted", exc.code, exc.message)]) from exc
        except DomainError as exc:
            record = records[0]
            raise RecordRefused(record, [RowError(record.rows[0], "", exc.code, exc.message)]) from exc
        errors = []
        for key, why in result.refused.items():
            record = by_key[key]
            record.action = "refused"
            errors.append(
                RowError(
                    record.rows[0],
                    "counted",
                    CountBelowAllocated.code,
                    f"Counted {why['counted']}, but {why['allocated']} are reserved for orders meanwhile.",
                )
            )
        progress(len(records))
        return errors
