"""Placing an order: validate, allocate what is free now, backorder the shortfall. The hot path of the OMS.

Lock order, as everywhere: stock items (pk order, via ``inventory.locks``) → orders → order lines / backorders.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from backorders.models import PRIORITY_RANKS
from backorders.selectors import policy_from_snapshot, policy_snapshot_sql, waiting_demand_sql, waiting_demand_subquery
from backorders.services import allocation_request_for_products, backorders_create
from core.actors import real_user
from core.errors import DateOutOfRange, InvalidInput
from inventory.exceptions import NotBackorderable, UnknownSku
from inventory.locks import stock_items_lock_for_skus
from inventory.lots import lots_attach, lots_take
from inventory.models import Product, StockItem
from inventory.routing import route_line, sellable_units, usable_units
from orders.exceptions import (
    IdempotencyKeyReused,
    NothingAvailable,
    PriorityNotAllowed,
    TierNotAllowed,
)
from orders.lots import lot_allocations_add
from orders.models import Allocation, Order, OrderLine, SalesChannel
from orders.selectors import (
    UNREAD,
    channel_warehouses_from_snapshot,
    channel_warehouses_sql,
    customer_from_snapshot,
    customer_snapshot_sql,
    customer_terms_for,
    customer_terms_from_snapshot,
    customer_terms_snapshot_sql,
)
from orders.services import CustomerData, customer_upsert, order_records_create

from .consent import BackorderConsent, promises_checked
from .placement_checks import PRIORITIES, SHIP_POLICIES, LineRequest
from .placement_checks import validate_lines as _validate_lines
from .placement_in_stock import in_stock_path_applies, order_place_in_stock

ORDER_TOTAL_MAX = Decimal("999999999999.99")  # Order.total: max_digits=14, decimal_places=2


@dataclass(frozen=True)
class PlacementResult:
    order: Order
    created: bool  # False when an Idempotency-Key replay returned the order placed before


# --- placing an order -------------------------------------------------------------------------


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


def _channel_may_decide(*, channel: SalesChannel, priority: str, customer: CustomerData) -> None:
    """A channel may ask for a priority up to its cap, and never sets a customer's tier (staff decide both)."""
    cap = channel.max_priority or Order.Priority.NORMAL
    if PRIORITY_RANKS[priority] > PRIORITY_RANKS.get(cap, PRIORITY_RANKS[Order.Priority.NORMAL]):
        raise PriorityNotAllowed(
            f"Sales channel {channel.code} may ask for priority up to {cap}, not {priority}; staff can raise it.",
            details={"priority": priority, "max_priority": cap},
        )
    if customer.tier:
        raise TierNotAllowed(
            "A customer's tier is set by staff, not by the sales channel; leave customer.tier out.",
            details={"tier": customer.tier},
        )


def order_place(
    *,
    customer: CustomerData,
    lines: list[LineRequest],
    channel: SalesChannel | None = None,
    ship_policy: str = Order.ShipPolicy.PARTIAL,
    priority: str = Order.Priority.NORMAL,
    requested_date: date | None = None,
    idempotency_key: str | None = None,
    backorder_consent: str = BackorderConsent.ACCEPT,
    external_reference: str = "",
    allow_split: bool = True,
    user=None,
) -> PlacementResult:
    """Validate, allocate what is free now, backorder the shortfall. Never oversells.

    With an idempotency key, a retry with the same body returns the order placed the first time. ``allow_split``
    False asks for every line to be served whole from one warehouse (the customer's own setting may ask it too).
    """
    _validate_lines(lines)
    if ship_policy not in SHIP_POLICIES:
        raise InvalidInput(f"Unknown ship policy {ship_policy!r}.", details={"ship_policy": ship_policy})
    if priority not in PRIORITIES:
        raise InvalidInput(f"Unknown priority {priority!r}.", details={"priority": priority})
    if requested_date is not None and requested_date < timezone.localdate():
        raise DateOutOfRange(
            f"requested_date {requested_date.isoformat()} is in the past.",
            details={"field": "requested_date", "min": timezone.localdate().isoformat()},
        )
    if backorder_consent not in BackorderConsent.values:
        raise InvalidInput(
            f"Unknown backorder consent {backorder_consent!r}.", details={"backorder_consent": backorder_consent}
        )
    if channel is not None:
        _channel_may_decide(channel=channel, priority=priority, customer=customer)
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
            # Only a non-default consent joins the fingerprint: replays of earlier requests keep matching.
            **({"backorder_consent": backorder_consent} if backorder_consent != BackorderConsent.ACCEPT else {}),
            **({"allow_split": False} if not allow_split else {}),
        )
    request = dict(customer=customer, lines=lines, channel=channel, ship_policy=ship_policy, priority=priority,
                   requested_date=requested_date, scoped_key=scoped_key, fingerprint=fingerprint,
                   external_reference=external_reference, allow_split=allow_split)  # fmt: skip
    if in_stock_path_applies(channel=channel, customer=customer, user=user):
        try:
            order = order_place_in_stock(**request, number=_new_order_number(), total_max=ORDER_TOTAL_MAX)
        except IntegrityError:  # a key (a replay) or a reference already used: the path below answers
            order = None
        if order is not None:
            return PlacementResult(order=order, created=True)
    if scoped_key:
        existing = Order.objects.filter(idempotency_key=scoped_key).first()
        if existing is not None:
            return _replay(existing, fingerprint)
    try:
        order = _order_place_atomic(**request, backorder_consent=backorder_consent, user=user)
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
    backorder_consent: str,
    scoped_key: str | None,
    fingerprint: str,
    user,
    external_reference: str = "",
    allow_split: bool = True,
) -> Order:
    skus = [line.sku for line in lines]
    items_by_product: dict[int, list[StockItem]] = defaultdict(list)
    # One round trip on the hot path: the products, their stock locked (pk order), the units the backorder queue
    # is owed (stock promised to the queue is not free for a newcomer: the queue goes first), and the customer.
    locked = stock_items_lock_for_skus(
        skus,
        annotations=lambda: {"queued_demand": waiting_demand_subquery()},
        sql_annotations={
            "queued_demand": (waiting_demand_sql("s.product_id"), []),
            "customer_row": customer_snapshot_sql(channel=channel, external_id=customer.external_id),
            # Needed only when a line is short; read in passing all the same (cheaper than a round trip then).
            "terms_row": customer_terms_snapshot_sql(channel=channel, external_id=customer.external_id),
            "policy_row": policy_snapshot_sql(),
            # The warehouses the channel may ship from (inventory.routing), in passing too.
            **({"channel_warehouses": channel_warehouses_sql(channel=channel)} if channel is not None else {}),
        },
    )
    products: dict[str, Product] = {}
    queued: dict[int, int] = {}
    for item in locked:
        products.setdefault(item.product.sku, item.product)
        items_by_product[item.product_id].append(item)
        queued[item.product_id] = item.queued_demand
    missing = [sku for sku in skus if sku not in products]
    if missing:  # never stocked anywhere, or unknown
        products.update({p.sku: p for p in Product.objects.filter(sku__in=missing)})
        unknown = [sku for sku in skus if sku not in products]
        if unknown:
            raise UnknownSku(f"Unknown SKU: {', '.join(unknown)}.", details={"skus": unknown})
    # After the stock locks (the global order: stock, then orders, then customers), as shipping takes them.
    current = terms = policy = UNREAD
    if locked and hasattr(locked[0], "customer_row"):  # read in passing on PostgreSQL
        current = customer_from_snapshot(locked[0].customer_row, channel=channel)
        terms, policy = locked[0].terms_row, locked[0].policy_row
    customer_obj = customer_upsert(data=customer, channel=channel, current=current)
    lots_attach(locked)  # lot-tracked products: their FEFO lots good enough to ship (no query without any)
    lot_picks: dict[int, list] = defaultdict(list)  # product id → (lot, units)
    # Routing (inventory.routing): the channel's warehouses, and whether a line may come from several of them.
    allowed = channel_warehouses_from_snapshot(
        getattr(locked[0], "channel_warehouses", UNREAD) if locked else UNREAD, channel=channel
    )
    allow_split = allow_split and customer_obj.allow_split

    plans = []
    refused = []
    for line in sorted(lines, key=lambda line: products[line.sku].pk):
        product = products[line.sku]
        items = items_by_product.get(product.pk, [])
        free = max(0, usable_units(items, allowed) - queued.get(product.pk, 0))
        take = min(free, line.quantity)
        if not allow_split and take < line.quantity:
            take = 0  # a line that may not be split is served whole or waits whole
        picks = route_line(items, take, allowed=allowed, allow_split=allow_split)
        take = sum(q for _, q in picks)
        shortfall = line.quantity - take
        if shortfall and not product.can_backorder and backorder_consent != BackorderConsent.SHIP_AVAILABLE:
            refused.append({"sku": product.sku, "requested": line.quantity, "available": take})
        for item, q in picks:
            if hasattr(item, "fefo_lots"):  # lot-tracked: FEFO within the stock item routing chose
                lot_picks[product.pk] += lots_take(item, q)
            item.allocated += q
        plans.append((product, line.quantity, picks, shortfall))
    if refused:
        names = ", ".join(f"{r['sku']} ({r['available']} available)" for r in refused)
        raise NotBackorderable(
            f"Not enough stock and these products cannot be backordered: {names}.",
            details={"lines": refused},
        )
    placed_at = timezone.now()
    dropped: dict[int, int] = {}  # product id → units dropped (ship_available)
    at_risk: set[int] = set()  # product ids of lines accepted although their ETA is too late
    promises: dict[int, tuple] = {}
    sla_due_at = None
    if any(plan[3] for plan in plans):  # nothing of this runs for an order that is fully in stock
        if backorder_consent == BackorderConsent.SHIP_AVAILABLE:
            if not any(picks for _, _, picks, _ in plans):
                raise NothingAvailable(
                    "Nothing of this order is in stock; with ship_available nothing would be left to ship.",
                    details={"lines": [{"sku": p.sku, "requested": q, "available": 0} for p, q, _, _ in plans]},
                )
            dropped = {product.pk: shortfall for product, _, _, shortfall in plans if shortfall}
            plans = [(product, quantity, picks, 0) for product, quantity, picks, _ in plans]
        else:
            terms = (
                customer_terms_for(customer=customer_obj) if terms is UNREAD else customer_terms_from_snapshot(terms)
            )
            policy = policy_from_snapshot(policy) if policy is not UNREAD else None  # None: read when needed
            promises, at_risk = promises_checked(
                plans=plans,
                customer=customer_obj,
                priority=priority,
                placed_at=placed_at,
                requested_date=requested_date,
                terms=terms,
                decline=backorder_consent == BackorderConsent.DECLINE,
                policy=policy,
            )
            if terms is not None:
                if not terms.allow_partial:
                    ship_policy = Order.ShipPolicy.COMPLETE
                if terms.sla_days is not None:
                    sla_due_at = placed_at + timedelta(days=terms.sla_days)
    total = sum(
        (product.unit_price * (quantity - dropped.get(product.pk, 0)) for product, quantity, _, _ in plans),
        Decimal("0"),
    )
    if total > ORDER_TOTAL_MAX:  # the column holds 14 digits; PostgreSQL would fail the INSERT
        raise InvalidInput(
            f"The order total {total} is above the limit of {ORDER_TOTAL_MAX}.", details={"total": str(total)}
        )

    order = Order(
        number=_new_order_number(),
        customer=customer_obj,
        channel=channel,
        placed_at=placed_at,
        status=Order.Status.BACKORDERED if any(plan[3] for plan in plans) else Order.Status.OPEN,
        ship_policy=ship_policy,
        allow_split=allow_split,
        priority=priority,
        requested_date=requested_date,
        currency=settings.OMS["DEFAULT_CURRENCY"],
        total=total,
        idempotency_key=scoped_key,
        request_fingerprint=fingerprint,
        external_reference=external_reference,
        created_by=real_user(user),
    )
    order_lines = [
        OrderLine(
            order=order,
            product=product,
            quantity=quantity,
            unit_price=product.unit_price,
            quantity_allocated=sum(q for _, q in picks),
            quantity_backordered=shortfall,
            quantity_cancelled=dropped.get(product.pk, 0),
            at_risk=product.pk in at_risk,
        )
        for product, quantity, picks, shortfall in plans
    ]
    allocations = []
    per_item: dict[int, int] = defaultdict(int)
    for order_line, (_, _, picks, _) in zip(order_lines, plans, strict=True):
        for item, q in picks:
            allocations.append(Allocation(order_line=order_line, stock_item=item, quantity=q))
            per_item[item.pk] += q
    # The order, its lines, their allocations and the stock counters: one statement on PostgreSQL.
    order_records_create(order=order, lines=order_lines, allocations=allocations, stock_quantities=per_item)
    if lot_picks:
        lot_allocations_add(
            picks=[(ol.pk, lot, q) for ol in order_lines for lot, q in lot_picks.get(ol.product_id, ())]
        )

    order.placed_lines = order_lines  # with their products: what listeners and the answer need, not read again
    short_lines = [(ol, shortfall) for ol, (_, _, _, shortfall) in zip(order_lines, plans, strict=True) if shortfall]
    backorders = []
    if short_lines:
        backorders = backorders_create(
            order=order,
            customer=customer_obj,
            lines=short_lines,
            user=user,
            promises=[promises[ol.product_id] for ol, _ in short_lines],
            sla_due_at=sla_due_at,
            policy=None if policy is UNREAD else policy,
        )
        # Free units that the queue is owed go to the queue in priority order (this order included).
        allocation_request_for_products(
            product_ids=[
                ol.product_id
                for ol, _ in short_lines
                if any(sellable_units(item) > 0 for item in items_by_product.get(ol.product_id, []))
            ]
        )
    # Kept for the caller that renders the new order at once (no second read of what was just written).
    products_by_id = {product.pk: product for product in products.values()}
    for backorder in backorders:
        backorder.product = products_by_id[backorder.product_id]
        backorder.order = order
    order.placed_backorders = backorders
    order.placed_dropped = [
        {"sku": product.sku, "requested": quantity, "dropped": dropped[product.pk]}
        for product, quantity, _, _ in plans
        if dropped.get(product.pk)
    ]
    return order
