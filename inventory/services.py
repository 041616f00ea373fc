from __future__ import annotations

from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import F

from core.actors import actor_label, real_user
from core.errors import InvalidInput

from .exceptions import InsufficientStock, UnknownSku, UnknownWarehouse
from .locks import stock_items_lock
from .models import Product, StockItem, StockMovement, Warehouse


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
        from backorders.services import backorders_after_product_change

        backorders_after_product_change(product=product)
    return product


def warehouse_create(*, code: str, name: str) -> Warehouse:
    if Warehouse.objects.filter(code=code).exists():
        raise InvalidInput(f"A warehouse with code {code!r} already exists.", details={"code": code})
    return Warehouse.objects.create(code=code, name=name)


def stock_item_get_or_create(*, product: Product, warehouse: Warehouse) -> StockItem:
    item, _ = StockItem.objects.get_or_create(product=product, warehouse=warehouse)
    return item


def stock_movement_apply(
    *,
    stock_item: StockItem,
    kind: str,
    quantity: int,
    reason: str = "",
    reference: str = "",
    user=None,
    allocated_delta: int = 0,
) -> StockMovement:
    """Move on_hand (and optionally allocated) of a *locked* stock item and write the ledger row.

    The CHECK constraints are the last line of defence; callers check first so the error is clear.
    """
    StockItem.objects.filter(pk=stock_item.pk).update(
        on_hand=F("on_hand") + quantity, allocated=F("allocated") + allocated_delta
    )
    stock_item.on_hand += quantity
    stock_item.allocated += allocated_delta
    return StockMovement.objects.create(
        stock_item=stock_item,
        kind=kind,
        quantity=quantity,
        reason=reason,
        reference=reference,
        created_by=real_user(user),
        actor=actor_label(user),
    )


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
        from backorders.services import allocation_request

        allocation_request(stock_item_ids=[item.pk])
    return movement
