"""Customers, sales channels and their API keys, and order status. Placing, shipping and cancelling orders span
orders and backorders: they live in ``fulfilment``."""

from __future__ import annotations

import hashlib
import secrets
from collections import defaultdict
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from core.errors import InvalidInput
from core.sql import execute_prepared, insert_sql
from inventory.counters import stock_allocate, stock_allocate_statement

from .models import Allocation, ApiKey, Customer, CustomerTerms, Order, OrderLine, SalesChannel
from .selectors import UNREAD
from .signals import customer_tier_changed


@dataclass(frozen=True)
class CustomerData:
    external_id: str
    email: str
    name: str
    tier: str | None = None


# --- orders ----------------------------------------------------------------------------------


def order_records_create(
    *,
    order: Order,
    lines: list[OrderLine],
    allocations: list[Allocation],
    stock_quantities: dict[int, int],
    one_statement: bool | None = None,
) -> None:
    """Write a new order, its lines (one per product), the allocations of its lines (``allocation.order_line`` is
    one of ``lines``) and the stock items' allocated counters (``stock_quantities``: stock item id → units; the
    caller holds their locks). Sets the primary keys on the objects given.

    On PostgreSQL this is one statement (data-modifying CTEs: one round trip instead of four, the hot path of order
    placement); elsewhere, or with ``one_statement=False``, the same rows through the ORM. Both write the same rows
    from the same objects: tests/orders/test_order_records.py compares them.
    """
    if one_statement is None:
        one_statement = connection.vendor == "postgresql"
    if not one_statement:
        order.save(force_insert=True)
        for line in lines:
            line.order = order
        OrderLine.objects.bulk_create(lines)
        for allocation in allocations:
            allocation.order_line = allocation.order_line  # now saved: sets order_line_id
        Allocation.objects.bulk_create(allocations)
        stock_allocate(quantities=stock_quantities)
        return
    order_sql, params = insert_sql([order])
    line_sql, line_params = insert_sql(
        lines, columns={"order_id": lambda _: ("(SELECT id FROM o)", [])}, returning=("id", "product_id")
    )
    ctes = [f"o AS ({order_sql})", f"l AS ({line_sql})"]
    params += line_params
    if allocations:
        allocation_sql, allocation_params = insert_sql(
            allocations,
            columns={
                "order_line_id": lambda a: ("(SELECT id FROM l WHERE product_id = %s)", [a.order_line.product_id])
            },
            returning=("id", "order_line_id", "stock_item_id"),
        )
        stock_sql, stock_params = stock_allocate_statement(quantities=stock_quantities)
        ctes += [f"a AS ({allocation_sql})", f"s AS ({stock_sql})"]
        params += allocation_params + stock_params
    else:
        ctes.append(
            "a AS (SELECT NULL::bigint AS id, NULL::bigint AS order_line_id, NULL::bigint AS stock_item_id WHERE false)"
        )
    sql = (
        f"WITH {', '.join(ctes)} SELECT (SELECT id FROM o),"
        " ARRAY(SELECT ARRAY[id, product_id] FROM l), ARRAY(SELECT ARRAY[id, order_line_id, stock_item_id] FROM a)"
    )
    with connection.cursor() as cursor:
        execute_prepared(cursor, sql, params)
        order_id, line_ids, allocation_ids = cursor.fetchone()
    order.pk = order_id
    order._state.adding, order._state.db = False, connection.alias
    by_product = {product_id: pk for pk, product_id in line_ids}
    for line in lines:
        line.pk = by_product[line.product_id]
        line.order = order
        line._state.adding, line._state.db = False, connection.alias
    by_pair = {(line_id, item_id): pk for pk, line_id, item_id in allocation_ids}
    for allocation in allocations:
        allocation.order_line = allocation.order_line
        allocation.pk = by_pair[(allocation.order_line_id, allocation.stock_item_id)]
        allocation._state.adding, allocation._state.db = False, connection.alias


# --- customers and channels -------------------------------------------------------------------


def customer_upsert(*, data: CustomerData, channel: SalesChannel | None = None, current=UNREAD) -> Customer:
    """The channel's customer with this external id, created or updated: the storefront owns its customers' contact
    details, and the latest order updates them. A channel reaches only its own customers (the same id sent by two
    channels is two customers); ``channel=None`` is a customer of orders placed by staff.

    The tier is staff's decision: it is set only on a customer created here by staff (``data.tier`` from a channel
    is refused earlier, by ``order_place``), and changed with ``customer_tier_set``.

    Safe under concurrency: INSERT … ON CONFLICT DO NOTHING, then read. ``current`` is the customer (or None) when the
    caller already read it in passing (``selectors.customer_snapshot``), saving the read.
    """
    scope = Customer.objects.filter(channel=channel, external_id=data.external_id)
    customer = scope.first() if current is UNREAD else current
    if customer is None:
        Customer.objects.bulk_create(
            [
                Customer(
                    channel=channel,
                    external_id=data.external_id,
                    email=data.email,
                    name=data.name,
                    tier=(data.tier if channel is None and data.tier else Customer.Tier.STANDARD),
                )
            ],
            ignore_conflicts=True,
        )
        return scope.get()
    changed = {}
    if data.email and customer.email != data.email:
        changed["email"] = data.email
    if data.name and customer.name != data.name:
        changed["name"] = data.name
    if channel is None and data.tier and customer.tier != data.tier:
        changed["tier"] = data.tier
    if changed:
        Customer.objects.filter(pk=customer.pk).update(**changed)
        for key, value in changed.items():
            setattr(customer, key, value)
    return customer


@transaction.atomic
def customer_tier_set(*, customer: Customer, tier: str, user=None) -> Customer:
    """Staff set a customer's tier. The allocation policy weighs it: the customer's waiting backorders are re-scored
    in this transaction (``signals.customer_tier_changed``; backorders listens), so the queue follows at once."""
    if tier not in Customer.Tier.values:
        raise InvalidInput(f"Unknown tier {tier!r}.", details={"tier": tier, "allowed": list(Customer.Tier.values)})
    Customer.objects.filter(pk=customer.pk).update(tier=tier)
    customer.tier = tier
    customer_tier_changed.send(sender=Customer, customer=customer)
    return customer


def customer_lifetime_value_add(*, customer_id: int, amount) -> None:
    """A shipment adds its value to the customer's lifetime value ("customer value" in the allocation policy).
    Called by shipping inside its transaction, after the stock and order locks (the customer row comes last)."""
    if amount:
        Customer.objects.filter(pk=customer_id).update(lifetime_value=F("lifetime_value") + amount)


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


TERMS_FIELDS = ("max_wait_days", "auto_cancel_after_days", "sla_days", "allow_partial", "accepts_substitutes")


@transaction.atomic
def customer_terms_set(
    *, customer: Customer | None = None, channel: SalesChannel | None = None, **fields
) -> CustomerTerms:
    """Write the terms of a customer, or a channel's default (exactly one of the two). Fields left out keep their
    value (or the default on a new row); day counts are None (no limit) or whole numbers from 0 to 3650."""
    if (customer is None) == (channel is None):
        raise InvalidInput("Terms belong to a customer or to a sales channel (its default), not both.")
    unknown = sorted(set(fields) - set(TERMS_FIELDS))
    if unknown:
        raise InvalidInput(f"Unknown terms: {', '.join(unknown)}.", details={"fields": unknown})
    for name in ("max_wait_days", "auto_cancel_after_days", "sla_days"):
        value = fields.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 3650):
            raise InvalidInput(f"{name} must be empty or a whole number of days (0–3650).", details={name: value})
    if customer is not None:
        terms, _ = CustomerTerms.objects.select_for_update().get_or_create(customer=customer)
    else:
        terms, _ = CustomerTerms.objects.select_for_update().get_or_create(channel=channel, customer=None)
    for name, value in fields.items():
        setattr(terms, name, value)
    terms.save()
    return terms


@transaction.atomic
def customer_terms_delete(*, terms: CustomerTerms) -> None:
    """Remove terms: a customer falls back to the channel default, a channel to no limits."""
    CustomerTerms.objects.filter(pk=terms.pk).delete()
