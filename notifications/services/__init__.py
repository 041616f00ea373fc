"""Customer notifications: the transactional outbox and everything that writes to it, one module per topic; import
from here."""

from .outbox import (
    OPTIONAL_EVENTS,
    eta_change_is_news,
    notifications_enqueue,
    notifications_enqueue_on_commit,
    notifications_from_backorder_events,
)
from .periodic import incentive_grant_if_due, incentives_grant_due, notifications_regular_updates
from .relay import notifications_relay, notifications_relay_claim
from .staff import notification_manual_update, notification_preference_set, notification_retry
from .webhooks import (
    webhook_endpoint_create,
    webhook_endpoint_delete,
    webhook_endpoint_ping,
    webhook_endpoint_secret_rotate,
    webhook_endpoint_update,
)

__all__ = [
    "OPTIONAL_EVENTS",
    "eta_change_is_news",
    "incentive_grant_if_due",
    "incentives_grant_due",
    "notification_manual_update",
    "notification_preference_set",
    "notification_retry",
    "notifications_enqueue",
    "notifications_enqueue_on_commit",
    "notifications_from_backorder_events",
    "notifications_regular_updates",
    "notifications_relay",
    "notifications_relay_claim",
    "webhook_endpoint_create",
    "webhook_endpoint_delete",
    "webhook_endpoint_ping",
    "webhook_endpoint_secret_rotate",
    "webhook_endpoint_update",
]
