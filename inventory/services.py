from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from core.errors import InvalidInput

from .counters import stock_movement_apply, stock_movements_apply_bulk
from .exceptions import CountBelowAllocated, InsufficientStock, LotRequired, UnknownSku, UnknownWarehouse
from .locks import stock_items_lock, stock_items_lock_pairs
from .lots import LotInput, lots_receive, lots_remove, lots_required_check
from .models import Product, StockItem, StockMovement, Warehouse
from .selectors import product_ids_by_sku, products_values_by_sku
from .signals import product_unavailable, stock_added, stock_availability_changed


def product_create(
    *,
    sku: str,
    name: str,
    unit_price: Decimal,
    status: str = Product.Status.ACTIVE,
    backorderable: bool = True,
    tracking: str = Product.Tracking.NONE,
    min_shelf_life_days: int = 0,
) -> Product:
    if Product.objects.filter(sku=sku).exists():
        raise InvalidInput(f"A product with SKU {sku!r} already exists.", details={"sku": sku})
    _tracking_check(tracking=tracking, min_shelf_life_days=min_shelf_life_days)
    try:
        with transaction.atomic():
            return Product.objects.create(
                sku=sku,
                name=name,
                unit_price=unit_price,
                status=status,
                backorderable=backorderable,
                tracking=tracking,
                min_shelf_life_days=min_shelf_life_days,
            )
    except IntegrityError as exc:  # a concurrent create of the same SKU
        raise InvalidInput(f"A product with SKU {sku!r} already exists.", details={"sku": sku}) from exc


def _tracking_check(*, tracking: str, min_shelf_life_days: int) -> None:
    if tracking not in Product.Tracking.values:
        raise InvalidInput(f"Unknown tracking {tracking!r}.", details={"tracking": tracking})
    if min_shelf_life_days < 0:
        raise InvalidInput(
            "min_shelf_life_days cannot be negative.", details={"min_shelf_life_days": min_shelf_life_days}
        )
    if min_shelf_life_days and tracking != Product.Tracking.LOT:
        raise InvalidInput(
            "A minimum shelf life needs lot tracking (the expiry is known per lot).",
            details={"min_shelf_life_days": min_shelf_life_days, "tracking": tracking},
        )


@transaction.atomic
def product_update(*, product: Product, **fields) -> Product:
    """Name, price, status, backorderable and the minimum shelf life. Tracking is set when a product is created:
    turning it on or off later would leave stock without lots (or lots without meaning)."""
    allowed = {"name", "unit_price", "status", "backorderable", "min_shelf_life_days"}
    if "min_shelf_life_days" in fields:
        _tracking_check(tracking=product.tracking, min_shelf_life_days=fields["min_shelf_life_days"])
    changed = [name for name in fields if name in allowed]
    for name in changed:
        setattr(product, name, fields[name])
    if changed:
        product.save(update_fields=[*changed, "updated_at"])
        if not product.can_backorder:
            product_unavailable.send(sender=Product, product=product)
    return product


def warehouse_create(*, code: str, name: str, is_active: bool = True, priority: int = 100) -> Warehouse:
    if Warehouse.objects.filter(code=code).exists():
        raise InvalidInput(f"A warehouse with code {code!r} already exists.", details={"code": code})
    return Warehouse.objects.create(code=code, name=name, is_active=is_active, priority=priority)


@transaction.atomic
def warehouse_update(*, warehouse: Warehouse, name: str, is_active: bool, priority: int, user=None) -> Warehouse:
    """Rename, (de)activate or re-prioritise a warehouse. When what may be promised changes (active, priority), the
    products stocked there are re-offered to their queues and their ETAs recomputed (``stock_availability_changed``).
    """
    if not isinstance(priority, int) or isinstance(priority, bool) or priority < 0:
        raise InvalidInput("priority must be a whole number ≥ 0.", details={"priority": priority})
    current = Warehouse.objects.select_for_update().get(pk=warehouse.pk)
    routing_changed = (current.is_active, current.priority) != (is_active, priority)
    Warehouse.objects.filter(pk=warehouse.pk).update(name=name, is_active=is_active, priority=priority)
    warehouse.name, warehouse.is_active, warehouse.priority = name, is_active, priority
    if routing_changed:
        product_ids = sorted(set(StockItem.objects.filter(warehouse=warehouse).values_list("product_id", flat=True)))
        if product_ids:
            stock_availability_changed.send(sender=Warehouse, product_ids=product_ids)
    return warehouse


def stock_item_get_or_create(*, product: Product, warehouse: Warehouse) -> StockItem:
    item, _ = StockItem.objects.get_or_create(product=product, warehouse=warehouse)
    return item


@transaction.atomic
def stock_adjust(
    *,
    sku: str,
    warehouse_code: str,
    quantity: int,
    reason: str,
    reference: str = "",
    lots: list[LotInput] | None = None,
    user=None,
) -> StockMovement:
    """A counted correction, found stock, customer return (+) or shrinkage (−).

    A lot-tracked product names the lot(s) (``lot_required``; units in also their expiry): one ledger row per lot,
    the first one returned. Units that come in are offered to the backorder queue after commit.
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
    lots_required_check(product=product, lots=lots, quantity=quantity, receiving=quantity > 0)
    item = stock_item_get_or_create(product=product, warehouse=warehouse)
    [item] = stock_items_lock([item.pk])
    if lots:
        kwargs = {"stock_item": item, "product": product, "lots": lots, "reason": reason, "reference": reference}
        if quantity > 0:
            movements = lots_receive(kind=StockMovement.Kind.ADJUSTMENT, user=user, **kwargs)
            stock_added.send(sender=StockItem, stock_item_ids=[item.pk])
        else:
            movements = lots_remove(user=user, **kwargs)
        return movements[0]
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


# --- bulk writes (imports) ------------------------------------------------------------------------


@dataclass(frozen=True)
class ProductData:
    sku: str
    name: str
    unit_price: Decimal
    status: str = Product.Status.ACTIVE
    backorderable: bool = True


PRODUCT_FIELDS = ("name", "unit_price", "status", "backorderable")


@transaction.atomic
def products_upsert(*, products: list[ProductData]) -> dict[str, str]:
    """Create or update many products by SKU in a few statements; returns SKU → ``created`` | ``updated`` |
    ``unchanged``. A product that stops being orderable on backorder cancels its waiting units, as with
    ``product_update`` (``product_unavailable``). On PostgreSQL one INSERT and one UPDATE over arrays (``unnest``)."""
    skus = [p.sku for p in products]
    if len(set(skus)) != len(skus):
        raise InvalidInput(
            "Each SKU may appear once.", details={"skus": sorted({s for s in skus if skus.count(s) > 1})}
        )
    existing = {row[0]: row[1:] for row in products_values_by_sku(skus, ("pk", *PRODUCT_FIELDS))}
    outcome: dict[str, str] = {}
    new: list[ProductData] = []
    changed: list[tuple[int, ProductData]] = []
    unavailable: list[int] = []
    for data in products:
        current = existing.get(data.sku)
        if current is None:
            new.append(data)
            outcome[data.sku] = "created"
            continue
        pk, *values = current
        if tuple(values) == tuple(getattr(data, f) for f in PRODUCT_FIELDS):
            outcome[data.sku] = "unchanged"
            continue
        changed.append((pk, data))
        outcome[data.sku] = "updated"
        was_orderable = values[2] == Product.Status.ACTIVE and values[3]
        if was_orderable and not (data.status == Product.Status.ACTIVE and data.backorderable):
            unavailable.append(pk)
    if connection.vendor == "postgresql":
        _products_write_sql(new, changed)
    else:
        Product.objects.bulk_create(
            [Product(sku=d.sku, **{f: getattr(d, f) for f in PRODUCT_FIELDS}) for d in new], batch_size=2000
        )
        for pk, data in changed:
            Product.objects.filter(pk=pk).update(
                updated_at=timezone.now(), **{f: getattr(data, f) for f in PRODUCT_FIELDS}
            )
    for product in Product.objects.filter(pk__in=unavailable).order_by("pk"):
        product_unavailable.send(sender=Product, product=product)
    return outcome


def _columns(rows: list[ProductData]) -> list[list]:
    return [[getattr(d, f) for d in rows] for f in ("sku", *PRODUCT_FIELDS)]


def _products_write_sql(new: list[ProductData], changed: list[tuple[int, ProductData]]) -> None:
    table = Product._meta.db_table
    with connection.cursor() as cursor:
        if new:
            cursor.execute(
                f"INSERT INTO {table} (sku, name, unit_price, status, backorderable, created_at, updated_at)"
                " SELECT x.sku, x.name, x.price, x.status, x.backorderable, now(), now()"
                " FROM unnest(%s::text[], %s::text[], %s::numeric[], %s::text[], %s::boolean[])"
                " AS x(sku, name, price, status, backorderable)",
                _columns(new),
            )
        if changed:
            cursor.execute(
                f"UPDATE {table} p SET name = x.name, unit_price = x.price, status = x.status,"
                " backorderable = x.backorderable, updated_at = now()"
                " FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::numeric[], %s::text[], %s::boolean[])"
                " AS x(id, sku, name, price, status, backorderable) WHERE p.id = x.id",
                [[pk for pk, _ in changed], *_columns([d for _, d in changed])],
            )


@dataclass(frozen=True)
class StockCount:
    sku: str
    warehouse_code: str
    counted: int


@dataclass(frozen=True)
class StockCountResult:
    moved: dict[tuple[str, str], int]  # (sku, warehouse) → signed units written to the ledger (0: unchanged)
    refused: dict[tuple[str, str], dict]  # (sku, warehouse) → why (counted below the units reserved for orders)


@transaction.atomic
def stock_counts_apply(
    *, counts: list[StockCount], reason: str, reference: str = "", partial: bool = False, user=None
) -> StockCountResult:
    """Turn counted quantities into signed ledger adjustments (counted − on hand), set-based.

    The stock items are locked first, all at once in key order, so the difference is taken against the stock as it
    is under the lock: an order placed meanwhile is either before the count (its units are reserved, and a count
    below the reserved units is refused: ``count_below_allocated``) or after it (it sees the counted stock). Nothing
    oversells. Without ``partial`` a refused count refuses them all (nothing written); with it, the others apply.
    Units that come in are offered to the backorder queue after commit.
    """
    if not reason.strip():
        raise InvalidInput("A stock count needs a reason.", details={"reason": reason})
    keys = [(c.sku, c.warehouse_code) for c in counts]
    if len(set(keys)) != len(keys):
        raise InvalidInput("Each SKU may be counted once per warehouse.")
    products = product_ids_by_sku(c.sku for c in counts)
    warehouses = dict(Warehouse.objects.filter(code__in={c.warehouse_code for c in counts}).values_list("code", "pk"))
    unknown = sorted({c.sku for c in counts} - set(products))
    if unknown:
        raise UnknownSku(f"Unknown SKU: {', '.join(unknown[:20])}.", details={"skus": unknown[:100]})
    unknown_wh = sorted({c.warehouse_code for c in counts} - set(warehouses))
    if unknown_wh:
        raise UnknownWarehouse(f"Unknown warehouse: {', '.join(unknown_wh)}.", details={"warehouses": unknown_wh})
    tracked = sorted(
        Product.objects.filter(pk__in=set(products.values()), tracking=Product.Tracking.LOT).values_list(
            "sku", flat=True
        )
    )
    if tracked:
        raise LotRequired(
            f"Lot-tracked products are counted per lot (a stock adjustment naming the lot): {', '.join(tracked[:20])}.",
            details={"skus": tracked[:100]},
        )
    wanted = {(products[c.sku], warehouses[c.warehouse_code]): c for c in counts}
    pairs = sorted(wanted)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {StockItem._meta.db_table} (product_id, warehouse_id, on_hand, allocated, updated_at)"
                " SELECT x.p, x.w, 0, 0, now() FROM unnest(%s::bigint[], %s::bigint[]) AS x(p, w)"
                " ON CONFLICT (product_id, warehouse_id) DO NOTHING",
                [[p for p, _ in pairs], [w for _, w in pairs]],
            )
    else:
        StockItem.objects.bulk_create(
            (StockItem(product_id=p, warehouse_id=w) for p, w in pairs), batch_size=5000, ignore_conflicts=True
        )
    locked = {(row.product_id, row.warehouse_id): row for row in stock_items_lock_pairs(pairs)}
    deltas: dict[int, int] = {}
    moved: dict[tuple[str, str], int] = {}
    refused: dict[tuple[str, str], dict] = {}
    for key, count in wanted.items():
        item = locked[key]
        label = (count.sku, count.warehouse_code)
        if count.counted < item.allocated:
            refused[label] = {"counted": count.counted, "allocated": item.allocated, "on_hand": item.on_hand}
            continue
        deltas[item.pk] = count.counted - item.on_hand
        moved[label] = deltas[item.pk]
    if refused and not partial:
        first = next(iter(refused))
        raise CountBelowAllocated(
            f"{first[0]} at {first[1]}: counted {refused[first]['counted']}, but {refused[first]['allocated']} are "
            "reserved for orders (ship or release them first).",
            details={"counts": [{"sku": s, "warehouse": w, **v} for (s, w), v in refused.items()]},
        )
    stock_movements_apply_bulk(
        deltas=deltas, kind=StockMovement.Kind.ADJUSTMENT, reason=reason, reference=reference, user=user
    )
    added = sorted(pk for pk, delta in deltas.items() if delta > 0)
    if added:
        stock_added.send(sender=StockItem, stock_item_ids=added)
    return StockCountResult(moved=moved, refused=refused)
