"""SQL shared by the set-based outbox writers (notifications.bulk, notifications.bulk_eta): a backorder's facts as
the outbox hook sees them, the fan-out to channels, and the tables' names."""

from __future__ import annotations

from .models import Incentive, Notification, NotificationPreference

# A backorder ``b`` as the hook sees it: the item's facts (``outbox_item``), its order's customer and the facts
# ``_channels_for`` decides on. Joined by primary keys only, so a plan never depends on row estimates.
BACKORDER_FACTS = """
           b.id AS backorder_id, b.order_id, b.order_line_id, b.status, b.quantity, b.eta, b.eta_basis,
           b.quantity - b.quantity_allocated - b.quantity_cancelled AS waiting, b.placed_at,
           p.sku, p.name, o.customer_id, o.currency, c.email,
           o.channel_id, COALESCE(ch.is_active, false) AS channel_active,
           COALESCE(np.preferred_channel = 'webhook', false) AS prefers_shop"""
BACKORDER_JOINS = """
      JOIN {product} p ON p.id = b.product_id
      JOIN {order} o ON o.id = b.order_id
      JOIN {customer} c ON c.id = o.customer_id
      LEFT JOIN {channel} ch ON ch.id = o.channel_id
      LEFT JOIN {preference} np ON np.customer_id = c.id"""

# The events' backorders with those facts.
EVENTS_WITH_FACTS = (
    """
      FROM {event} e
      JOIN {backorder} b ON b.id = e.backorder_id"""
    + BACKORDER_JOINS
)


def emailed_sql(source: str, event: str) -> str:
    """Whether a row of ``source`` goes by e-mail for ``event`` (an SQL expression; _channels_for): unless the
    customer prefers the shop and the shop has an active endpoint for the event."""
    return f"""({source}.email <> '' AND NOT ({source}.prefers_shop AND {source}.channel_active AND EXISTS (
           SELECT 1 FROM {{endpoint}} w
            WHERE w.channel_id = {source}.channel_id AND w.is_active AND w.events ? {event})))"""


def targets_sql(source: str) -> str:
    """The CTE that fans rows of ``source`` (with an ``event`` column) out to their channels (_channels_for):
    e-mail unless the customer prefers the shop and the shop has an active endpoint for the event; one webhook
    row per active endpoint of an active shop subscribed to the event (``events ? event``: the JSON list holds it)."""
    return f"""
targets AS (
    SELECT {source}.*, 'email' AS channel, email AS recipient, NULL::bigint AS endpoint_id FROM {source}
     WHERE {emailed_sql(source, f"{source}.event")}
    UNION ALL
    SELECT {source}.*, 'webhook', w.url, w.id FROM {source}
      JOIN {{endpoint}} w ON w.channel_id = {source}.channel_id AND w.is_active AND w.events ? {source}.event
     WHERE channel_active
)"""


def tables() -> dict[str, str]:
    from backorders.models import Backorder, BackorderEvent
    from inventory.models import Product
    from orders.models import Customer, Order, OrderLine, SalesChannel

    from .models import WebhookEndpoint

    return {
        "event": BackorderEvent._meta.db_table,
        "backorder": Backorder._meta.db_table,
        "product": Product._meta.db_table,
        "order": Order._meta.db_table,
        "order_line": OrderLine._meta.db_table,
        "customer": Customer._meta.db_table,
        "channel": SalesChannel._meta.db_table,
        "preference": NotificationPreference._meta.db_table,
        "incentive": Incentive._meta.db_table,
        "notification": Notification._meta.db_table,
        "endpoint": WebhookEndpoint._meta.db_table,
    }
