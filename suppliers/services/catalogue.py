"""Suppliers and their catalogue (which products they supply, at what lead time and pack size)."""

from __future__ import annotations

from decimal import Decimal

from django.db import IntegrityError, transaction

from backorders.services import eta_request
from core.errors import InvalidInput
from inventory.exceptions import UnknownSku
from inventory.models import Product

from ..exceptions import UnknownSupplier
from ..models import (
    Supplier,
    SupplierProduct,
)

# --- suppliers --------------------------------------------------------------------------------


def supplier_create(*, code: str, name: str, email: str = "") -> Supplier:
    if Supplier.objects.filter(code=code).exists():
        raise InvalidInput(f"A supplier with code {code!r} already exists.", details={"code": code})
    try:
        with transaction.atomic():
            return Supplier.objects.create(code=code, name=name, email=email)
    except IntegrityError as exc:
        raise InvalidInput(f"A supplier with code {code!r} already exists.", details={"code": code}) from exc


@transaction.atomic
def supplier_upsert(*, code: str, name: str, email: str = "", is_active: bool = True) -> tuple[Supplier, str]:
    """Create or update a supplier by code (imports); returns it and ``created`` | ``updated`` | ``unchanged``."""
    supplier = Supplier.objects.select_for_update().filter(code=code).first()
    if supplier is None:
        Supplier.objects.bulk_create(
            [Supplier(code=code, name=name, email=email, is_active=is_active)], ignore_conflicts=True
        )
        return Supplier.objects.get(code=code), "created"
    fields = {"name": name, "email": email, "is_active": is_active}
    changed = [f for f, value in fields.items() if getattr(supplier, f) != value]
    if not changed:
        return supplier, "unchanged"
    for f in changed:
        setattr(supplier, f, fields[f])
    supplier.save(update_fields=[*changed, "updated_at"])
    return supplier, "updated"


def _supplier(code: str) -> Supplier:
    supplier = Supplier.objects.filter(code=code).first()
    if supplier is None:
        raise UnknownSupplier(f"Unknown supplier {code!r}.", details={"supplier": code})
    return supplier


def _product(sku: str) -> Product:
    product = Product.objects.filter(sku=sku).first()
    if product is None:
        raise UnknownSku(f"Unknown SKU {sku!r}.", details={"skus": [sku]})
    return product


@transaction.atomic
def supplier_product_upsert(
    *,
    supplier_code: str,
    sku: str,
    lead_time_days: int = 14,
    min_order_quantity: int = 1,
    pack_size: int = 1,
    unit_cost: Decimal = Decimal("0"),
    preferred: bool = False,
    supplier_sku: str = "",
) -> SupplierProduct:
    """Create or update what a supplier sells us. Marking it preferred retires the product's other preferred one."""
    supplier = _supplier(supplier_code)
    product = _product(sku)
    if min_order_quantity < 1 or pack_size < 1 or lead_time_days < 0 or unit_cost < 0:
        raise InvalidInput("Lead time, minimum order quantity, pack size and cost must be positive.")
    if preferred:
        SupplierProduct.objects.filter(product=product, preferred=True).exclude(supplier=supplier).update(
            preferred=False
        )
    item, _ = SupplierProduct.objects.update_or_create(
        supplier=supplier,
        product=product,
        defaults={
            "lead_time_days": lead_time_days,
            "min_order_quantity": min_order_quantity,
            "pack_size": pack_size,
            "unit_cost": unit_cost,
            "preferred": preferred,
            "supplier_sku": supplier_sku,
        },
    )
    eta_request(product_ids=[product.pk])  # a lead-time estimate may change
    return item
