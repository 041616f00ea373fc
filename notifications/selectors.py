"""Reads of the outbox, for the API, the admin and the dashboard."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from .models import Notification, NotificationAttempt, WebhookEndpoint


def notification_list() -> QuerySet[Notification]:
    return Notification.objects.select_related("customer", "order", "backorder__product").order_by("-created_at", "-id")


def notification_detail() -> QuerySet[Notification]:
    """One notification with its attempt log (every attempt, staff retries included, oldest first)."""
    return notification_list().prefetch_related("attempt_log")


def notifications_for_order(order) -> QuerySet[Notification]:
    """Every notification about an order (order-level messages and those about one of its backorders)."""
    return notification_list().filter(order_id=order.pk)


def notifications_for_backorder(backorder) -> QuerySet[Notification]:
    """Notifications about this backorder, including order-level ones that list it with others."""
    return notification_list().filter(
        Q(backorder_id=backorder.pk) | Q(order_id=backorder.order_id, backorder__isnull=True)
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
