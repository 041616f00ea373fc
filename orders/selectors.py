from __future__ import annotations

import hmac

from django.db.models import CharField, F, Prefetch, Q, Subquery
from django.db.models.functions import Cast, JSONObject

from .exceptions import AmbiguousCustomer
from .models import ApiKey, Customer, CustomerTerms, Order, OrderLine


def api_key_lookup(*, raw_key: str) -> ApiKey | None:
    """The active key matching ``raw_key`` (format ``oms_<prefix>_<secret>``), or None."""
    from .services import _hash_key

    parts = raw_key.split("_", 2)
    if len(parts) != 3 or parts[0] != "oms":
        return None
    api_key = (
        ApiKey.objects.select_related("channel")
        .filter(prefix=parts[1], revoked_at__isnull=True, channel__is_active=True)
        .first()
    )
    if api_key is None or not hmac.compare_digest(api_key.hashed_key, _hash_key(raw_key)):
        return None
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
_SNAPSHOT_FIELDS = ("id", "channel_id", "external_id", "email", "name", "tier", "lifetime_value", "created_at")


def customer_snapshot(*, channel, external_id: str):
    """The channel's customer with this external id as a scalar subquery (JSON), for another statement to read in
    passing (order placement reads it in its stock-locking statement); ``customer_from_snapshot`` turns it back."""
    row = {name: F(name) for name in _SNAPSHOT_FIELDS}
    row["lifetime_value"] = Cast("lifetime_value", CharField())  # exact, not a JSON float
    return Subquery(
        Customer.objects.filter(channel=channel, external_id=external_id).order_by().values(row=JSONObject(**row))[:1]
    )


def customer_from_snapshot(row: dict | None, *, channel) -> Customer | None:
    if row is None:
        return None
    values = [Customer._meta.get_field(name).to_python(row[name]) for name in _SNAPSHOT_FIELDS]
    customer = Customer.from_db("default", list(_SNAPSHOT_FIELDS), values)
    if channel is not None:
        customer.channel = channel
    return customer


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
