"""Order intake, shipping and cancellation: the hot path of the OMS.

Lock order, everywhere: stock items (pk order, via ``inventory.locks``) → orders (pk order) →
order lines / backorders. Every function here is one transaction.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from core.actors import real_user
from core.errors import InvalidInput
from inventory.exceptions import NotBackorderable, UnknownSku
from inventory.locks import stock_items_lock_for_products
from inventory.models import Product, StockItem, StockMovement
from inventory.services import stock_movement_apply

from .exceptions import (
    DuplicateSku,
    IdempotencyKeyReused,
    NothingToCancel,
    NothingToShip,
    OrderClosed,
    OrderNotReady,
)
from .models import Allocation, ApiKey, Customer, Order, OrderLine, SalesChannel, Shipment, ShipmentLine

ORDER_TOTAL_MAX = Decimal("999999999999.99")  # Order.total: max_digits=14, decimal_places=2


@dataclass(frozen=True)
class CustomerData:
    external_id: str
    email: str
    name: str
    tier: str | None = None


@dataclass(frozen=True)
class LineRequest:
    sku: str
    quantity: int


@dataclass(frozen=True)
class PlacementResult:
    order: Order
    created: bool  # False when an Idempotency-Key replay returned the order placed before


# --- customers and channels -------------------------------------------------------------------


def customer_upsert(*, data: CustomerData) -> Customer:
    """The storefront owns the customer's contact details; the latest order updates them.

    Safe under concurrency: INSERT … ON CONFLICT DO NOTHING, then read.
    """
    customer = Customer.objects.filter(external_id=data.external_id).first()
    if customer is None:
        Customer.objects.bulk_create(
            [
                Customer(
                    external_id=data.external_id,
                    email=data.email,
                    name=data.name,
                    tier=data.tier or Customer.Tier.STANDARD,
                )
            ],
            ignore_conflicts=True,
        )
        return Customer.objects.get(external_id=data.external_id)
    changed = {}
    if data.email and customer.email != data.email:
        changed["email"] = data.email
    if data.name and customer.name != data.name:
        changed["name"] = data.name
    if data.tier and customer.tier != data.tier:
        changed["tier"] = data.tier
    if changed:
        Customer.objects.filter(pk=customer.pk).update(**changed)
        for key, value in changed.items():
            setattr(customer, key, value)
    return customer


def _hash_key(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


@transaction.atomic
def api_key_create(*, channel_code: str, name: str = "", channel_name: str | None = None) -> tuple[ApiKey, str]:
    """Create an API key for a channel (creating the channel if needed). Returns the key and its secret,
    which is shown once and stored only as a hash."""
    channel, _ = SalesChannel.objects.get_or_create(
        code=channel_code, defaults={"name": channel_name or channel_code.replace("-", " ").title()}
    )
    prefix = secrets.token_hex(4)
    raw_key = f"oms_{prefix}_{secrets.token_urlsafe(32)}"
    api_key = ApiKey.objects.create(channel=channel, name=name, prefix=prefix, hashed_key=_hash_key(raw_key))
    return api_key, raw_key


# How stale "last used" may get: at most one write per key per interval, none on most requests.
API_KEY_USAGE_INTERVAL_SECONDS = 60


def api_key_mark_used(*, api_key: ApiKey) -> bool:
    """Record that a key was just used (for staff auditing keys), at most once a minute. Returns whether it wrote.

    The conditional UPDATE makes concurrent requests write once; it runs in autocommit, outside any order
    transaction, so it never holds a lock that an order waits on."""
    from datetime import timedelta

    now = timezone.now()
    stale = now - timedelta(seconds=API_KEY_USAGE_INTERVAL_SECONDS)
    if api_key.last_used_at is not None and api_key.last_used_at > stale:
        return False
    written = (
        ApiKey.objects.filter(pk=api_key.pk)
        .filter(Q(last_used_at__isnull=True) | Q(last_used_at__lte=stale))
        .update(last_used_at=now)
    )
    api_key.last_used_at = now
    return bool(written)


def api_key_revoke(*, api_key: ApiKey) -> ApiKey:
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
    return api_key


# --- placing an order -------------------------------------------------------------------------


def _validate_lines(lines: list[LineRequest]) -> None:
    limits = settings.OMS
    if not lines:
        raise InvalidInput("An order needs at least one line.", details={"lines": []})
    if len(lines) > limits["MAX_ORDER_LINES"]:
        raise InvalidInput(f"An order may have at most {limits['MAX_ORDER_LINES']} lines.")
    seen: set[str] = set()
    duplicates: list[str] = []
    for line in lines:
        if not isinstance(line.quantity, int) or isinstance(line.quantity, bool) or line.quantity <= 0:
            raise InvalidInput(f"Quantity of {line.sku} must be a whole number above 0.", details={"sku": line.sku})
        if line.quantity > limits["MAX_LINE_QUANTITY"]:
            raise InvalidInput(
                f"Quantity {line.quantity} of {line.sku} is above the limit of {limits['MAX_LINE_QUANTITY']}.",
                details={"sku": line.sku, "max": limits["MAX_LINE_QUANTITY"]},
            )
        if line.sku in seen:
            duplicates.append(line.sku)
        seen.add(line.sku)
    if duplicates:
        raise DuplicateSku(
            f"Each SKU may appear once per order; repeated: {', '.join(sorted(set(duplicates)))}.",
            details={"skus": sorted(set(duplicates))},
        )


def _fingerprint(**request) -> str:
    return hashlib.sha256(json.dumps(request, sort_keys=True, default=str).encode()).hexdigest()


def _new_order_number() -> str:
    return f"SO-{timezone.now():%y%m%d}-{secrets.token_hex(4).upper()}"


def _replay(order: Order, fingerprint: str) -> PlacementResult:
    if order.request_fingerprint != fingerprint:
        raise IdempotencyKeyReused(
            "This Idempotency-Key was already used with a different request body.",
            details={"order": order.number},
        )
    return PlacementResult(order=order, created=False)


def order_place(
    *,
    customer: CustomerData,
    lines: list[LineRequest],
    channel: SalesChannel | None = None,
    ship_policy: str = Order.ShipPolicy.PARTIAL,
    priority: str = Order.Priority.NORMAL,
    requested_date: date | None = None,
    idempotency_key: str | None = None,
    user=None,
) -> PlacementResult:
    """Validate, allocate what is free now, backorder the shortfall. Never oversells.

    With an idempotency key, a retry with the same body returns the order placed the first time.
    """
    _validate_lines(lines)
    if ship_policy not in Order.ShipPolicy.values:
        raise InvalidInput(f"Unknown ship policy {ship_policy!r}.", details={"ship_policy": ship_policy})
    if priority not in Order.Priority.values:
        raise InvalidInput(f"Unknown priority {priority!r}.", details={"priority": priority})
    scoped_key = None
    fingerprint = ""
    if idempotency_key:
        scope = f"channel:{channel.pk}" if channel else f"user:{getattr(user, 'pk', 'anonymous')}"
        scoped_key = f"{scope}:{idempotency_key}"
        fingerprint = _fingerprint(
            customer=customer.__dict__,
            lines=[line.__dict__ for line in lines],
            ship_policy=ship_policy,
            priority=priority,
            requested_date=requested_date,
        )
        existing = Order.objects.filter(idempotency_key=scoped_key).first()
        if existing is not None:
            return _replay(existing, fingerprint)
    try:
        order = _order_place_atomic(
            customer=customer,
            lines=lines,
            channel=channel,
            ship_policy=ship_policy,
            priority=priority,
            requested_date=requested_date,
            scoped_key=scoped_key,
            fingerprint=fingerprint,
            user=user,
        )
    except IntegrityError:
        # A concurrent request with the same key won the race; everything of ours was rolled back.
        if scoped_key:
            existing = Order.objects.filter(idempotency_key=scoped_key).first()
            if existing is not None:
                return _replay(existing, fingerprint)
        raise
    return PlacementResult(order=order, created=True)


@transaction.atomic
def _order_place_atomic(
    *,
    customer: CustomerData,
    lines: list[LineRequest],
    channel: SalesChannel | None,
    ship_policy: str,
    priority: str,
    requested_date: date | None,
    scoped_key: str | None,
    fingerprint: str,
    user,
) -> Order:
    from backorders.selectors import waiting_demand_subquery
    from backorders.services import allocation_request_for_products, backorders_create

    skus = [line.sku for line in lines]
    products = {p.sku: p for p in Product.objects.filter(sku__in=skus)}
    unknown = [sku for sku in skus if sku not in products]
    if unknown:
        raise UnknownSku(f"Unknown SKU: {', '.join(unknown)}.", details={"skus": unknown})

    customer_obj = customer_upsert(data=customer)
    product_ids = [products[sku].pk for sku in skus]
    items_by_product: dict[int, list[StockItem]] = defaultdict(list)
    # Stock already promised to the backorder queue is not free for a newcomer: the queue goes first.
    # The queue's demand is read in the locking statement (one round trip on the hot path).
    queued: dict[int, int] = {}
    for item in stock_items_lock_for_products(product_ids, queued_demand=waiting_demand_subquery()):
        items_by_product[item.product_id].append(item)
        queued[item.product_id] = item.queued_demand

    plans = []
    refused = []
    for line in sorted(lines, key=lambda line: products[line.sku].pk):
        product = products[line.sku]
        items = items_by_product.get(product.pk, [])
        free = max(0, sum(item.available for item in items) - queued.get(product.pk, 0))
        take = min(free, line.quantity)
        shortfall = line.quantity - take
        if shortfall and not product.can_backorder:
            refused.append({"sku": product.sku, "requested": line.quantity, "available": take})
        picks = []
        for item in items:
            if take <= 0:
                break
            q = min(item.available, take)
            if q > 0:
                picks.append((item, q))
                item.allocated += q
                take -= q
        plans.append((product, line.quantity, picks, shortfall))
    if refused:
        names = ", ".join(f"{r['sku']} ({r['available']} available)" for r in refused)
        raise NotBackorderable(
            f"Not enough stock and these products cannot be backordered: {names}.",
            details={"lines": refused},
        )
    total = sum((product.unit_price * quantity for product, quantity, _, _ in plans), Decimal("0"))
    if total > ORDER_TOTAL_MAX:  # the column holds 14 digits; PostgreSQL would fail the INSERT
        raise InvalidInput(
            f"The order total {total} is above the limit of {ORDER_TOTAL_MAX}.", details={"total": str(total)}
        )

    order = Order.objects.create(
        number=_new_order_number(),
        customer=customer_obj,
        channel=channel,
        placed_at=timezone.now(),
        status=Order.Status.BACKORDERED if any(plan[3] for plan in plans) else Order.Status.OPEN,
        ship_policy=ship_policy,
        priority=priority,
        requested_date=requested_date,
        currency=settings.OMS["DEFAULT_CURRENCY"],
        total=total,
        idempotency_key=scoped_key,
        request_fingerprint=fingerprint,
        created_by=real_user(user),
    )
    order_lines = OrderLine.objects.bulk_create(
        [
            OrderLine(
                order=order,
                product=product,
                quantity=quantity,
                unit_price=product.unit_price,
                quantity_allocated=sum(q for _, q in picks),
                quantity_backordered=shortfall,
            )
            for product, quantity, picks, shortfall in plans
        ]
    )
    allocations = []
    per_item: dict[int, int] = defaultdict(int)
    for order_line, (_, _, picks, _) in zip(order_lines, plans, strict=True):
        for item, q in picks:
            allocations.append(Allocation(order_line=order_line, stock_item=item, quantity=q))
            per_item[item.pk] += q
    Allocation.objects.bulk_create(allocations)
    for item_pk in sorted(per_item):
        StockItem.objects.filter(pk=item_pk).update(allocated=F("allocated") + per_item[item_pk])

    short_lines = [(ol, shortfall) for ol, (_, _, _, shortfall) in zip(order_lines, plans, strict=True) if shortfall]
    backorders = []
    if short_lines:
        backorders = backorders_create(order=order, customer=customer_obj, lines=short_lines, user=user)
        # Free units that the queue is owed go to the queue in priority order (this order included).
        allocation_request_for_products(
            product_ids=[
                ol.product_id
                for ol, _ in short_lines
                if any(item.available > 0 for item in items_by_product.get(ol.product_id, []))
            ]
        )
    # Kept for the caller that renders the new order at once (no second read of what was just written).
    products_by_id = {product.pk: product for product in products.values()}
    for backorder in backorders:
        backorder.product = products_by_id[backorder.product_id]
        backorder.order = order
    order.placed_lines, order.placed_backorders = order_lines, backorders
    return order


# --- order status -----------------------------------------------------------------------------


def order_status_derive(lines: list[OrderLine]) -> str:
    if all(line.quantity_cancelled == line.quantity for line in lines):
        return Order.Status.CANCELLED
    still_open = sum(line.quantity_allocated + line.quantity_backordered for line in lines)
    shipped = sum(line.quantity_shipped for line in lines)
    if still_open == 0:
        return Order.Status.SHIPPED
    if shipped:
        return Order.Status.PARTIALLY_SHIPPED
    if any(line.quantity_backordered for line in lines):
        return Order.Status.BACKORDERED
    return Order.Status.OPEN


def orders_status_refresh(*, order_ids) -> None:
    """Recompute the status of several orders. Locks them in pk order (after any stock locks)."""
    ids = sorted(set(order_ids))
    if not ids:
        return
    orders = list(Order.objects.select_for_update(no_key=True).filter(pk__in=ids).order_by("pk"))
    lines_by_order: dict[int, list[OrderLine]] = defaultdict(list)
    for line in OrderLine.objects.filter(order_id__in=ids):
        lines_by_order[line.order_id].append(line)
    for order in orders:
        status = order_status_derive(lines_by_order[order.pk])
        if status != order.status:
            updates = {"status": status}
            if status == Order.Status.CANCELLED:
                updates["cancelled_at"] = timezone.now()
            Order.objects.filter(pk=order.pk).update(**updates)


def _lock_order(order: Order) -> tuple[Order, list[OrderLine]]:
    """Lock stock for every product of the order, then the order, then its lines (the global order).

    The order's products are read before the order is locked (stock comes first), so a line added meanwhile by
    another transaction (a substitute accepted while this one waited for stock) would escape the stock lock.
    Then the locks are taken again with the larger set, inside a savepoint whose rollback releases the first
    ones. Lines are never removed, so this ends.
    """
    product_ids = set(OrderLine.objects.filter(order_id=order.pk).values_list("product_id", flat=True))
    while True:
        savepoint = transaction.savepoint()
        items = stock_items_lock_for_products(product_ids)
        locked = (
            Order.objects.select_for_update(no_key=True, of=("self",))
            .select_related("customer", "channel")
            .get(pk=order.pk)
        )
        lines = list(
            OrderLine.objects.select_for_update(no_key=True, of=("self",))
            .filter(order_id=order.pk)
            .select_related("product")
            .order_by("pk")
        )
        missing = {line.product_id for line in lines} - product_ids
        if not missing:
            transaction.savepoint_commit(savepoint)
            break
        transaction.savepoint_rollback(savepoint)
        product_ids |= missing
    locked.stock_items_locked = {item.pk: item for item in items}
    return locked, lines


# --- shipping ---------------------------------------------------------------------------------


@transaction.atomic
def order_ship(*, order: Order, user=None, tracking_reference: str = "") -> Shipment:
    """Ship everything allocated. A ship-complete order ships only once every line is allocated."""
    from backorders.services import backorders_mark_fulfilled

    order, lines = _lock_order(order)
    if order.status in (Order.Status.CANCELLED, Order.Status.SHIPPED):
        raise OrderClosed(f"Order {order.number} is {order.status}; there is nothing left to ship.")
    if order.ship_policy == Order.ShipPolicy.COMPLETE and any(line.quantity_backordered for line in lines):
        waiting = {line.product.sku: line.quantity_backordered for line in lines if line.quantity_backordered}
        raise OrderNotReady(
            f"Order {order.number} ships complete and still waits for stock: "
            + ", ".join(f"{sku} ({q})" for sku, q in waiting.items())
            + ".",
            details={"waiting": waiting},
        )
    allocations = list(Allocation.objects.select_for_update().filter(order_line__order_id=order.pk).order_by("pk"))
    if not allocations:
        raise NothingToShip(f"Order {order.number} has no allocated stock to ship.")

    shipment = Shipment.objects.create(order=order, created_by=real_user(user), tracking_reference=tracking_reference)
    lines_by_pk = {line.pk: line for line in lines}
    shipped_per_line: dict[int, int] = defaultdict(int)
    shipment_lines = []
    for allocation in allocations:
        item = order.stock_items_locked[allocation.stock_item_id]
        stock_movement_apply(
            stock_item=item,
            kind=StockMovement.Kind.SHIPMENT,
            quantity=-allocation.quantity,
            allocated_delta=-allocation.quantity,
            reason="Shipped to customer",
            reference=order.number,
            user=user,
        )
        shipment_lines.append(
            ShipmentLine(
                shipment=shipment,
                order_line_id=allocation.order_line_id,
                stock_item_id=allocation.stock_item_id,
                quantity=allocation.quantity,
            )
        )
        shipped_per_line[allocation.order_line_id] += allocation.quantity
    ShipmentLine.objects.bulk_create(shipment_lines)
    Allocation.objects.filter(pk__in=[a.pk for a in allocations]).delete()
    for line_pk, quantity in shipped_per_line.items():
        OrderLine.objects.filter(pk=line_pk).update(
            quantity_allocated=F("quantity_allocated") - quantity, quantity_shipped=F("quantity_shipped") + quantity
        )
        line = lines_by_pk[line_pk]
        line.quantity_allocated -= quantity
        line.quantity_shipped += quantity
    backorders_mark_fulfilled(order_line_ids=list(shipped_per_line), user=user, shipment=shipment)
    orders_status_refresh(order_ids=[order.pk])
    return shipment


# --- cancelling -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CancelRequest:
    sku: str
    quantity: int | None = None  # None: every unit not yet shipped


@transaction.atomic
def order_cancel(*, order: Order, lines: list[CancelRequest] | None = None, reason: str = "", user=None) -> Order:
    """Cancel the whole order or some lines (or units of them).

    Units still waiting for stock are cancelled first, then reserved units, which go back to the pool
    and are offered to the backorder queue after commit.
    """
    from backorders.services import allocation_request, backorder_cancel_units

    order, order_lines = _lock_order(order)
    if order.status in (Order.Status.CANCELLED, Order.Status.SHIPPED):
        raise OrderClosed(f"Order {order.number} is {order.status} and cannot be cancelled.")
    by_sku = {line.product.sku: line for line in order_lines}
    if lines is None:
        targets = [(line, line.quantity_open) for line in order_lines if line.quantity_open]
    else:
        targets = []
        seen = set()
        for request in lines:
            line = by_sku.get(request.sku)
            if line is None:
                raise InvalidInput(
                    f"Order {order.number} has no line for SKU {request.sku!r}.", details={"sku": request.sku}
                )
            if request.sku in seen:
                raise DuplicateSku(f"SKU {request.sku} is listed twice.", details={"skus": [request.sku]})
            seen.add(request.sku)
            quantity = line.quantity_open if request.quantity is None else request.quantity
            if quantity <= 0 or quantity > line.quantity_open:
                raise InvalidInput(
                    f"Can cancel between 1 and {line.quantity_open} of {request.sku}, not {quantity}.",
                    details={"sku": request.sku, "cancellable": line.quantity_open},
                )
            targets.append((line, quantity))
    if not targets:
        raise NothingToCancel(f"Order {order.number} has nothing left to cancel.")

    released_items: set[int] = set()
    for line, quantity in targets:
        from_backorder = min(line.quantity_backordered, quantity)
        to_release = quantity - from_backorder
        if to_release:
            released_items |= _allocations_release(line=line, quantity=to_release)
        backorder_cancel_units(
            order_line=line,
            quantity=from_backorder,
            line_open_after=line.quantity_open - quantity,
            reason=reason,
            user=user,
        )
        OrderLine.objects.filter(pk=line.pk).update(
            quantity_backordered=F("quantity_backordered") - from_backorder,
            quantity_allocated=F("quantity_allocated") - to_release,
            quantity_cancelled=F("quantity_cancelled") + quantity,
        )
    orders_status_refresh(order_ids=[order.pk])
    allocation_request(stock_item_ids=released_items)
    order.refresh_from_db()
    return order


def _allocations_release(*, line: OrderLine, quantity: int) -> set[int]:
    """Give back ``quantity`` reserved units of a line to the pool (newest allocations first)."""
    released: set[int] = set()
    remaining = quantity
    for allocation in Allocation.objects.select_for_update().filter(order_line=line).order_by("-pk"):
        if remaining <= 0:
            break
        q = min(allocation.quantity, remaining)
        if q == allocation.quantity:
            allocation.delete()
        else:
            Allocation.objects.filter(pk=allocation.pk).update(quantity=F("quantity") - q)
        StockItem.objects.filter(pk=allocation.stock_item_id).update(allocated=F("allocated") - q)
        released.add(allocation.stock_item_id)
        remaining -= q
    return released
