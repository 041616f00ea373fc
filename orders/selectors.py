from __future__ import annotations

import functools
import hmac

from django.db import InterfaceError, OperationalError, connection
from django.db.models import F, Prefetch, Q

from core.sql import execute_prepared, from_row_json, row_json_sql

from .exceptions import AmbiguousCustomer
from .models import ApiKey, Customer, CustomerTerms, Order, OrderLine, SalesChannel


def api_key_lookup(*, raw_key: str) -> ApiKey | None:
    """The active key matching ``raw_key`` (format ``oms_<prefix>_<secret>``), or None."""
    from .services import _hash_key

    parts = raw_key.split("_", 2)
    if len(parts) != 3 or parts[0] != "oms":
        return None
    api_key = _api_key_by_prefix(parts[1])
    if api_key is None or not hmac.compare_digest(api_key.hashed_key, _hash_key(raw_key)):
        return None
    return api_key


_KEY_FIELDS = [f.attname for f in ApiKey._meta.concrete_fields]
_CHANNEL_FIELDS = [f.attname for f in SalesChannel._meta.concrete_fields]


@functools.cache
def _api_key_statement() -> str:
    qn = connection.ops.quote_name
    columns = [f"k.{qn(f.column)}" for f in ApiKey._meta.concrete_fields]
    columns += [f"c.{qn(f.column)}" for f in SalesChannel._meta.concrete_fields]
    return (
        f"SELECT {', '.join(columns)} FROM {qn(ApiKey._meta.db_table)} k"
        f" JOIN {qn(SalesChannel._meta.db_table)} c ON c.id = k.channel_id"
        " WHERE k.prefix = %s AND k.revoked_at IS NULL AND c.is_active"
    )


def _api_key_row(prefix: str):
    # The first statement of a channel request is its own health check: no `SELECT 1` round trip before it
    # (CONN_HEALTH_CHECKS), a failure is retried once by the caller instead.
    connection.health_check_done = True
    with connection.cursor() as cursor:
        execute_prepared(cursor, _api_key_statement(), [prefix])
        return cursor.fetchone()


def _api_key_by_prefix(prefix: str) -> ApiKey | None:
    """The active key with this prefix and its channel. Every channel request starts here: on PostgreSQL it is one
    plain statement built once (no ORM compilation per request); revocation still takes effect at once."""
    if connection.vendor != "postgresql":
        return (
            ApiKey.objects.select_related("channel")
            .filter(prefix=prefix, revoked_at__isnull=True, channel__is_active=True)
            .first()
        )
    try:
        row = _api_key_row(prefix)
    except (OperationalError, InterfaceError):
        if connection.in_atomic_block:
            raise
        # The session died since the last request (a database restart or failover): once more on a new one.
        connection.close()
        row = _api_key_row(prefix)
    if row is None:
        return None
    api_key = ApiKey.from_db(connection.alias, _KEY_FIELDS, row[: len(_KEY_FIELDS)])
    api_key.channel = SalesChannel.from_db(connection.alias, _CHANNEL_FIELDS, row[len(_KEY_FIELDS) :])
    return api_key


def order_list(*, channel=None):
    """Orders with what their list and detail views show, in a fixed number of queries.

    The order's backorders are reached through the reverse relation (backorders sit above orders: no import)."""
    Backorder = Order._meta.get_field("backorders").related_model
    queryset = Order.objects.select_related("customer", "channel").prefetch_related(
        Prefetch("lines", queryset=OrderLine.objects.select_related("product").order_by("pk")),
        Prefetch("backorders", queryset=Backorder.objects.select_related("product").order_by("pk")),
    )
    if channel is not None:
        queryset = queryset.filter(channel=channel)
    return queryset


def order_get(*, number: str, channel=None) -> Order | None:
    """One order with its lines and backorders; None when it does not exist or belongs to another channel."""
    if not number or "\x00" in number or len(number) > 32:
        return None
    return order_list(channel=channel).filter(number=number).first()


def order_just_placed(*, order: Order) -> Order:
    """A new order from ``order_place`` ready to render: its lines and backorders, kept in memory by the
    service, stand in for the prefetch ``order_list`` would do (the hot path skips reading them back)."""
    for name, objects in (("lines", order.placed_lines), ("backorders", order.placed_backorders)):
        queryset = getattr(order, name).all()
        queryset._result_cache = list(objects)
        queryset._prefetch_done = True
        order._prefetched_objects_cache = {**getattr(order, "_prefetched_objects_cache", {}), name: queryset}
    return order


UNREAD = object()  # "not read yet", as opposed to None ("there is no such customer")


def customer_snapshot_sql(*, channel, external_id: str) -> tuple[str, list]:
    """The channel's customer with this external id as a scalar subquery (JSON; SQL and params) for another
    statement to read in passing: order placement reads it in its stock-locking statement, saving a round trip.
    ``customer_from_snapshot`` turns it back into a Customer (None when there is none). PostgreSQL."""
    if channel is None:
        return row_json_sql(Customer, where="channel_id IS NULL AND external_id = %s", params=[external_id])
    return row_json_sql(Customer, where="channel_id = %s AND external_id = %s", params=[channel.pk, external_id])


def customer_from_snapshot(row: dict | None, *, channel) -> Customer | None:
    customer = from_row_json(Customer, row)
    if customer is not None and channel is not None:
        customer.channel = channel
    return customer


def customer_terms_snapshot_sql(*, channel, external_id: str) -> tuple[str, list]:
    """``customer_terms_for`` of the customer ``customer_snapshot_sql`` reads, in passing (JSON; SQL, params): their
    own terms, else their channel's default. ``customer_terms_from_snapshot`` turns it back."""
    table = Customer._meta.db_table
    customer_sql, customer_params = (
        (f"SELECT id FROM {table} WHERE channel_id IS NULL AND external_id = %s", [external_id])
        if channel is None
        else (f"SELECT id FROM {table} WHERE channel_id = %s AND external_id = %s", [channel.pk, external_id])
    )
    return row_json_sql(
        CustomerTerms,
        where=f"(customer_id = ({customer_sql}) OR (customer_id IS NULL AND channel_id = %s))",
        params=[*customer_params, channel.pk if channel is not None else None],
        order_by="customer_id NULLS LAST",
    )


def channel_warehouses_sql(*, channel) -> tuple[str, list]:
    """The warehouses a channel may ship from as a scalar subquery (an array of ids, NULL when none are listed: every
    active warehouse) for order placement's locking statement to read in passing. PostgreSQL."""
    through = SalesChannel.warehouses.through._meta.db_table
    return (f"SELECT array_agg(warehouse_id) FROM {through} WHERE saleschannel_id = %s", [channel.pk])


def channel_warehouse_ids(*, channel) -> frozenset[int] | None:
    """The warehouses a channel may ship from; None: every active warehouse (no list, or no channel)."""
    if channel is None:
        return None
    return frozenset(channel.warehouses.values_list("pk", flat=True)) or None


def channel_warehouses_from_snapshot(value, *, channel) -> frozenset[int] | None:
    """``channel_warehouse_ids`` from what ``channel_warehouses_sql`` read in passing (``UNREAD``: read it now)."""
    if channel is None:
        return None
    if value is UNREAD:
        return channel_warehouse_ids(channel=channel)
    return frozenset(value or ()) or None


def channel_warehouses_by_channel(channel_ids) -> dict[int, frozenset[int]]:
    """channel id → the warehouses it may ship from, for the channels (None: all) that list some (others: every
    active warehouse)."""
    rows = SalesChannel.warehouses.through.objects.all()
    if channel_ids is not None:
        rows = rows.filter(saleschannel_id__in=list(channel_ids))
    allowed: dict[int, set[int]] = {}
    for channel_id, warehouse_id in rows.values_list("saleschannel_id", "warehouse_id"):
        allowed.setdefault(channel_id, set()).add(warehouse_id)
    return {channel_id: frozenset(ids) for channel_id, ids in allowed.items()}


def customer_terms_from_snapshot(row: dict | None) -> CustomerTerms | None:
    return from_row_json(CustomerTerms, row)


def customer_list(*, channel=None):
    """Customers a caller may see: a channel only its own, staff every one."""
    queryset = Customer.objects.select_related("channel").order_by("pk")
    if channel is not None:
        queryset = queryset.filter(channel=channel)
    return queryset


def customer_get(*, customer_id: int, channel=None) -> Customer | None:
    return customer_list(channel=channel).filter(pk=customer_id).first()


def customer_by_external_id(*, external_id: str, channel=None, channel_code: str | None = None) -> Customer | None:
    """A channel's customer by its own external id. Staff name the channel (``channel_code``; "" for customers of
    staff orders) or, without it, get the one customer with that id (several: ``AmbiguousCustomer``)."""
    if not external_id or "\x00" in external_id or len(external_id) > 100:
        return None
    if channel is not None:
        return customer_list(channel=channel).filter(external_id=external_id).first()
    matches = customer_list().filter(external_id=external_id)
    if channel_code is not None:
        matches = matches.filter(channel__code=channel_code) if channel_code else matches.filter(channel=None)
    found = list(matches[:2])
    if len(found) > 1:
        codes = sorted(c.channel.code if c.channel else "" for c in matches)
        raise AmbiguousCustomer(
            f"Several sales channels have a customer {external_id!r}: name one with ?channel=<code>.",
            details={"channels": codes},
        )
    return found[0] if found else None


def customer_terms_for(*, customer: Customer) -> CustomerTerms | None:
    """The terms that bind a customer: their own row, else their channel's default, else None (no limits)."""
    rows = list(
        CustomerTerms.objects.filter(
            Q(customer_id=customer.pk) | Q(customer__isnull=True, channel_id=customer.channel_id)
        ).order_by(F("customer_id").asc(nulls_last=True))  # the customer's own row first
    )
    return rows[0] if rows else None


def customer_terms_list(*, channel=None):
    qs = CustomerTerms.objects.select_related("customer", "channel", "customer__channel")
    if channel is not None:
        qs = qs.filter(Q(channel=channel) | Q(customer__channel=channel))
    return qs
