"""The outbox hook's facts for backorders its writer holds as just written (order placement): nothing is read again
but what the writer does not hold, the customers' preferences and the channels' webhook endpoints, in one round trip
(its statement built once per shape: ``core.sql.fetch_together_prepared``)."""

from __future__ import annotations

from django.db import connection

from core.sql import fetch_together_prepared

from ..models import NotificationPreference, WebhookEndpoint


def _loaded_reads(*, customer_ids, channel_ids) -> list:
    """The customers' preferences and the channels' webhook endpoints (all their columns, for ``_instances``)."""
    reads = [_columns(NotificationPreference.objects.filter(customer_id__in=customer_ids))]
    if channel_ids:
        reads.append(_columns(WebhookEndpoint.objects.filter(channel_id__in=channel_ids)))
    return reads


def _columns(queryset):
    return queryset.values_list(*(field.attname for field in queryset.model._meta.concrete_fields))


def _instances(model, rows) -> list:
    names = [field.attname for field in model._meta.concrete_fields]
    return [model.from_db(connection.alias, names, list(row)) for row in rows]


def backorders_as_loaded(backorders) -> dict:
    """The backorders as their writer holds them, with their customers' preferences and their channels' active
    webhook endpoints attached as ``select_related``/``prefetch_related`` would (one round trip for both)."""
    from orders.models import Customer

    by_pk = {backorder.pk: backorder for backorder in backorders}
    orders = {backorder.order_id: backorder.order for backorder in by_pk.values()}
    customers = {order.customer_id: order.customer for order in orders.values()}
    channels = {order.channel_id: order.channel for order in orders.values() if order.channel_id is not None}
    rows = fetch_together_prepared(
        "outbox.loaded", _loaded_reads, customer_ids=sorted(customers), channel_ids=sorted(channels)
    )
    preferences_rows, endpoint_rows = rows[0], rows[1] if channels else []
    preferences = {p.customer_id: p for p in _instances(NotificationPreference, preferences_rows)}
    for customer_id, customer in customers.items():
        Customer.notification_preference.related.set_cached_value(customer, preferences.get(customer_id))
    endpoints = _instances(WebhookEndpoint, endpoint_rows)
    for channel_id, channel in channels.items():
        manager = channel.webhook_endpoints
        queryset = manager.get_queryset()
        queryset._result_cache = [e for e in endpoints if e.channel_id == channel_id]
        queryset._prefetch_done = True
        channel._prefetched_objects_cache = getattr(channel, "_prefetched_objects_cache", {})
        channel._prefetched_objects_cache[WebhookEndpoint.channel.field.remote_field.cache_name] = queryset
    return by_pk
