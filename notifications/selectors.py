"""Reads of the outbox, for the API, the admin and the dashboard."""

from __future__ import annotations

from django.db import connection
from django.db.models import Q, QuerySet

from .models import Notification, NotificationAttempt, WebhookEndpoint


def notification_list() -> QuerySet[Notification]:
    return Notification.objects.select_related("customer", "order", "backorder__product").order_by("-created_at", "-id")


def notification_detail() -> QuerySet[Notification]:
    """One notification with its attempt log (every attempt, staff retries included, oldest first)."""
    return notification_list().prefetch_related("attempt_log")


def digests_covering(order_id: int) -> Q:
    """The ETA digests that list this order (a digest's ``order`` is only the first of those it covers). On
    PostgreSQL ``context -> 'order_ids' @> [id]`` on digest rows (notification_digest_orders_idx); elsewhere the
    order's customer's few digests, read once."""
    digest = Notification.Event.ETA_DIGEST
    if connection.vendor == "postgresql":
        return Q(event=digest, context__order_ids__contains=[order_id])
    from orders.models import Order

    customer = Order.objects.filter(pk=order_id).values("customer_id")
    ids = [
        pk
        for pk, order_ids in Notification.objects.filter(event=digest, customer_id__in=customer).values_list(
            "pk", "context__order_ids"
        )
        if order_id in (order_ids or [])
    ]
    return Q(pk__in=ids)


def notifications_for_order(order) -> QuerySet[Notification]:
    """Every notification about an order (order-level messages, those about one of its backorders, and the ETA
    digests that list it among the customer's other orders)."""
    return notification_list().filter(Q(order_id=order.pk) | digests_covering(order.pk))


def notifications_about_order_number(notifications: QuerySet[Notification], number: str) -> QuerySet[Notification]:
    """``notifications`` about the order with this number (the staff list's ``?order=``), its ETA digests included."""
    from orders.models import Order

    order_id = Order.objects.filter(number=number).values_list("pk", flat=True).first()
    if order_id is None:
        return notifications.none()
    return notifications.filter(Q(order_id=order_id) | digests_covering(order_id))


def notifications_for_backorder(backorder) -> QuerySet[Notification]:
    """Notifications about this backorder, including order-level ones that list it with others (ETA digests too)."""
    return notification_list().filter(
        Q(backorder_id=backorder.pk)
        | Q(order_id=backorder.order_id, backorder__isnull=True)
        | digests_covering(backorder.order_id)
    )


def webhook_endpoints(*, channel=None, channel_code: str | None = None) -> QuerySet[WebhookEndpoint]:
    """Webhook endpoints: a channel's own (``channel``), or every one for staff (optionally of ``channel_code``)."""
    endpoints = WebhookEndpoint.objects.select_related("channel", "health").order_by("channel__code", "id")
    if channel is not None:
        return endpoints.filter(channel=channel)
    if channel_code:
        return endpoints.filter(channel__code=channel_code)
    return endpoints


def webhook_endpoint_deliveries(endpoint: WebhookEndpoint) -> QuerySet[NotificationAttempt]:
    """Every delivery attempt to the endpoint, newest first, with its notification."""
    return (
        NotificationAttempt.objects.filter(notification__webhook_endpoint=endpoint)
        .select_related("notification")
        .order_by("-started_at", "-id")
    )
