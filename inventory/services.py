from __future__ import annotations

from decimal import Decimal

from django.db import IntegrityError, transaction

from core.errors import InvalidInput

from .counters import stock_movement_apply
from .exceptions import InsufficientStock, UnknownSku, UnknownWarehouse
from .locks import stock_items_lock
from .models import Product, StockItem, StockMovement, Warehouse
from .signals import product_unavailable, stock_added


def product_create(
    *, sku: str, name: str, unit_price: Decimal, status: str = Product.Status.ACTIVE, backorderable: bool = True
) -> Product:
    if Product.objects.filter(sku=sku).exists():
        raise InvalidInput(f"A product with SKU {sku!r} already exists.", details={"sku": sku})
    try:
        with transaction.atomic():
            return Product.objects.create(
                sku=sku, name=name, unit_price=unit_price, status=status, backorderable=backorderable
            )
    except IntegrityError as exc:  # a concurrent create of the same SKU
        raise InvalidInput(f"A product with SKU {sku!r} already exists.", details={"sku": sku}) from exc


@transaction.atomic
def product_update(*, product: Product, **fields) -> Product:
    allowed = {"name", "unit_price", "status", "backorderable"}
    changed = [name for name in fields if name in allowed]
    for name in changed:
        setattr(product, name, fields[name])
    if changed:
        product.save(update_fields=[*changed, "updated_at"])
        if not product.can_backorder:
            product_unavailable.send(sender=Product, product=product)
    return product


def warehouse_create(*, code: str, name: str) -> Warehouse:
    if Warehouse.objects.filter(code=code).exists():
        raise InvalidInput(f"A warehouse with code {code!r} already exists.", details={"code": code})
    return Warehouse.objects.create(code=code, name=name)


def stock_item_get_or_create(*, product: Product, warehouse: Warehouse) -> StockItem:
    item, _ = StockItem.objects.get_or_create(product=product, warehouse=warehouse)
    return item


@transaction.atomic
def stock_adjust(
    *, sku: str, warehouse_code: str, quantity: int, reason: str, reference: str = "", user=None
) -> StockMovement:
    """A counted correction, found stock, customer return (+) or shrinkage (−).

    Units that come in are offered to the backorder queue after commit.
    """
    if quantity == 0:
        raise InvalidInput("An adjustment must change the quantity (it cannot be 0).", details={"quantity": 0})
    if not reason.strip():
        raise InvalidInput("An adjustment needs a reason.", details={"reason": reason})
    product = Product.objects.filter(sku=sku).first()
    if product is None:
        raise UnknownSku(f"Unknown SKU {sku!r}.", details={"skus": [sku]})
    warehouse = Warehouse.objects.filter(code=warehouse_code).first()
    if warehouse is None:
        raise UnknownWarehouse(f"Unknown warehouse {warehouse_code!r}.", details={"warehouse": warehouse_code})
    item = stock_item_get_or_create(product=product, warehouse=warehouse)
    [item] = stock_items_lock([item.pk])
    if quantity < 0 and item.available < -quantity:
        raise InsufficientStock(
            f"Cannot remove {-quantity} of {sku} at {warehouse_code}: only {item.available} are unallocated.",
            details={"available": item.available, "on_hand": item.on_hand, "allocated": item.allocated},
        )
    movement = stock_movement_apply(
        stock_item=item,
        kind=StockMovement.Kind.ADJUSTMENT,
        quantity=quantity,
        reason=reason,
        reference=reference,
        user=user,
    )
    if quantity > 0:
        stock_added.send(sender=StockItem, stock_item_ids=[item.pk])
    return movement
