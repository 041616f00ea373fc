"""Products, suppliers and supplier products: upsert by SKU, supplier code, (supplier, SKU)."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

from inventory.models import Product
from inventory.selectors import product_ids_by_sku, products_values_by_sku
from inventory.services import ProductData, products_upsert
from suppliers.models import Supplier, SupplierProduct
from suppliers.services import supplier_product_upsert, supplier_upsert

from .base import (
    CODE,
    Column,
    Kind,
    Record,
    RowError,
    boolean,
    choice,
    decimal,
    email,
    integer,
    merged,
    text,
)


def _chunks(items: list, size: int = 5000):
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _missing_for_create(record: Record, names) -> list[RowError]:
    return [
        RowError(record.rows[0], name, "required", "A value is required for a new record.")
        for name in names
        if record.data.get(name) is None
    ]


class ProductsKind(Kind):
    permissions = ("inventory.add_product", "inventory.change_product")
    name = "products"
    title = "Products"
    description = "Creates products by SKU, or updates name, price, status and backorderable."
    key = ("sku",)
    columns = [
        Column("sku", CODE, required=True, help="The product's SKU (natural key).", example="CHAIR-ERGO"),
        Column("name", text(200), help="Required for a new product.", example="Ergonomic chair"),
        Column(
            "unit_price", decimal(), help="Price, 2 decimals (. or ,). Required for a new product.", example="249.00"
        ),
        Column(
            "status",
            choice(Product.Status.values),
            default=Product.Status.ACTIVE,
            help="active or discontinued.",
            example="active",
        ),
        Column(
            "backorderable",
            boolean,
            default=True,
            help="May be ordered when out of stock (true/false).",
            example="true",
        ),
    ]
    FIELDS = ("name", "unit_price", "status", "backorderable")

    def plan(self, records):
        existing = {
            row[0]: SimpleNamespace(**dict(zip(self.FIELDS, row[1:], strict=True)))
            for row in products_values_by_sku([r.key for r in records], self.FIELDS)
        }
        errors = {}
        for index, record in enumerate(records):
            current = existing.get(record.key)
            record.current = current
            record.data = {"sku": record.key, **merged(record.data, current, self.columns, self.FIELDS)}
            if current is None:
                record.action = "create"
                missing = _missing_for_create(record, ("name", "unit_price"))
                if missing:
                    errors[index] = missing
            else:
                same = all(getattr(current, f) == record.data[f] for f in self.FIELDS)
                record.action = "unchanged" if same else "update"
        return errors

    def write(self, records, *, user, partial, progress):
        done = 0
        for chunk in _chunks(records):
            products_upsert(products=[ProductData(**r.data) for r in chunk])
            done += len(chunk)
            progress(done)
        return []


class SuppliersKind(Kind):
    permissions = ("suppliers.add_supplier", "suppliers.change_supplier")
    name = "suppliers"
    title = "Suppliers"
    description = "Creates suppliers by code, or updates name, e-mail and active."
    key = ("code",)
    columns = [
        Column(
            "code",
            text(50, r"[-a-zA-Z0-9_]+", "Letters, digits, '-' and '_' only."),
            required=True,
            help="The supplier's code (natural key).",
            example="acme",
        ),
        Column("name", text(200), help="Required for a new supplier.", example="ACME Furniture Ltd"),
        Column("email", email, default="", help="Where purchase orders go.", example="orders@acme.example"),
        Column("is_active", boolean, default=True, help="true/false.", example="true"),
    ]
    FIELDS = ("name", "email", "is_active")

    def plan(self, records):
        existing = {s.code: s for s in Supplier.objects.filter(code__in=[r.key for r in records])}
        errors = {}
        for index, record in enumerate(records):
            current = existing.get(record.key)
            record.current = current
            record.data = {"code": record.key, **merged(record.data, current, self.columns, self.FIELDS)}
            if current is None:
                record.action = "create"
                if missing := _missing_for_create(record, ("name",)):
                    errors[index] = missing
            else:
                same = all(getattr(current, f) == record.data[f] for f in self.FIELDS)
                record.action = "unchanged" if same else "update"
        return errors

    def write_one(self, record, *, user):
        supplier_upsert(**record.data)


class SupplierProductsKind(Kind):
    permissions = ("suppliers.add_supplierproduct", "suppliers.change_supplierproduct")
    name = "supplier_products"
    title = "Supplier products"
    description = "What each supplier sells us: lead time, minimum order, pack size, cost, preferred."
    key = ("supplier", "sku")
    columns = [
        Column("supplier", text(50), required=True, help="Supplier code.", example="acme"),
        Column("sku", CODE, required=True, help="Product SKU.", example="CHAIR-ERGO"),
        Column("supplier_sku", text(64), default="", help="The supplier's own reference.", example="AC-4411"),
        Column("lead_time_days", integer(0, 3650), default=14, help="Quoted lead time in days.", example="21"),
        Column("min_order_quantity", integer(1, 1_000_000), default=1, help="Minimum order quantity.", example="10"),
        Column("pack_size", integer(1, 1_000_000), default=1, help="Units per pack.", example="5"),
        Column("unit_cost", decimal(), default=Decimal("0"), help="Cost per unit.", example="120.00"),
        Column(
            "preferred",
            boolean,
            default=False,
            help="The product's preferred supplier (one per product).",
            example="true",
        ),
    ]
    FIELDS = ("supplier_sku", "lead_time_days", "min_order_quantity", "pack_size", "unit_cost", "preferred")

    def plan(self, records):
        suppliers = dict(
            Supplier.objects.filter(code__in={r.data["supplier"] for r in records}).values_list("code", "pk")
        )
        products = product_ids_by_sku(r.data["sku"] for r in records)
        existing = {
            (sp.supplier_id, sp.product_id): sp
            for sp in SupplierProduct.objects.filter(
                supplier_id__in=suppliers.values(), product_id__in=products.values()
            )
        }
        preferred_in_file: dict[str, int] = {}
        errors: dict[int, list[RowError]] = {}
        for index, record in enumerate(records):
            row, sku, code = record.rows[0], record.data["sku"], record.data["supplier"]
            problems = []
            if code not in suppliers:
                problems.append(RowError(row, "supplier", "unknown_supplier", f"Unknown supplier {code!r}."))
            if sku not in products:
                problems.append(RowError(row, "sku", "unknown_sku", f"Unknown SKU {sku!r}."))
            if problems:
                errors[index] = problems
                continue
            current = existing.get((suppliers[code], products[sku]))
            record.current = current
            record.data = {"supplier": code, "sku": sku, **merged(record.data, current, self.columns, self.FIELDS)}
            if record.data["preferred"]:
                if sku in preferred_in_file:
                    errors[index] = [
                        RowError(
                            row,
                            "preferred",
                            "two_preferred",
                            f"{sku} is marked preferred on row {preferred_in_file[sku]} too.",
                        )
                    ]
                    continue
                preferred_in_file[sku] = row
            if current is None:
                record.action = "create"
            else:
                same = all(getattr(current, f) == record.data[f] for f in self.FIELDS)
                record.action = "unchanged" if same else "update"
        return errors

    def write_one(self, record, *, user):
        data = dict(record.data)
        supplier_product_upsert(supplier_code=data.pop("supplier"), sku=data.pop("sku"), **data)
