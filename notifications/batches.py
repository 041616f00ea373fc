"""Notifications for the allocation engine's events, written right after its commit (PostgreSQL).

The engine reserves stock for up to tens of thousands of backorders in one transaction, holding the product's
stock lock (order intake for that product waits meanwhile). It writes its backorder events and one
``EventBatch`` row in that transaction, not a notification per backorder. After commit a task turns the
batch's events into "ready" notification rows with one INSERT … SELECT, and deletes the batch, in one
transaction. Nothing is lost: the batch row commits with the allocation, the dedupe keys make processing
twice harmless, and the relay processes any batch whose task never ran (broker down, worker lost).
"""

from __future__ import annotations

import logging

from django.db import connection, transaction

from .models import EventBatch, Notification, NotificationPreference

logger = logging.getLogger(__name__)

# The same rows as ``notifications_from_backorder_events`` writes for 'allocated' events (one event per order:
# a product has one line per order): same dedupe key, channels, recipient and context.
_READY_SQL = """
WITH ev AS (
    SELECT e.id AS event_id, e.quantity AS given, e.created_at AS occurred_at, b.id AS backorder_id, b.order_id,
           b.status, b.quantity - b.quantity_allocated - b.quantity_cancelled AS waiting, b.eta, b.eta_basis,
           p.sku, p.name, o.customer_id, c.email,
           COALESCE(ch.is_active AND ch.webhook_url <> '', false) AS has_webhook, ch.webhook_url,
           COALESCE(np.preferred_channel = 'webhook', false) AS prefers_shop
      FROM {event} e
      JOIN {backorder} b ON b.id = e.backorder_id
      JOIN {product} p ON p.id = b.product_id
      JOIN {order} o ON o.id = b.order_id
      JOIN {customer} c ON c.id = o.customer_id
      LEFT JOIN {channel} ch ON ch.id = o.channel_id
      LEFT JOIN {preference} np ON np.customer_id = c.id
     WHERE e.id BETWEEN %(first)s AND %(last)s AND b.product_id = %(product)s AND e.kind = 'allocated'
),
targets AS (
    SELECT ev.*, 'email' AS channel, ev.email AS recipient FROM ev
     WHERE ev.email <> '' AND NOT (ev.prefers_shop AND ev.has_webhook)
    UNION ALL
    SELECT ev.*, 'webhook', ev.webhook_url FROM ev WHERE ev.has_webhook
)
INSERT INTO {notification} AS n
       (customer_id, order_id, backorder_id, event, channel, status, dedupe_key, recipient, subject, body_text,
        body_html, payload, context, attempts, next_attempt_at, last_error, created_at)
SELECT customer_id, order_id, backorder_id, 'ready', channel, 'pending',
       'ready:o' || order_id || ':e' || event_id || ':' || channel, recipient, '', '', '', '{{}}'::jsonb,
       jsonb_build_object(
           'items', jsonb_build_array(jsonb_build_object(
               'backorder_id', backorder_id, 'sku', sku, 'name', name, 'quantity', given, 'waiting', waiting,
               'status', status, 'eta', to_char(eta, 'YYYY-MM-DD'), 'eta_basis', eta_basis)),
           'data', '{{}}'::jsonb,
           'backorder_ids', jsonb_build_array(backorder_id),
           'occurred_at', to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"'),
           'shipping_now', '[]'::jsonb),
       0, now(), '', now()
  FROM targets
ON CONFLICT (dedupe_key) DO NOTHING
RETURNING n.id
"""


def _tables() -> dict[str, str]:
    from backorders.models import Backorder, BackorderEvent
    from inventory.models import Product
    from orders.models import Customer, Order, SalesChannel

    return {
        "event": BackorderEvent._meta.db_table,
        "backorder": Backorder._meta.db_table,
        "product": Product._meta.db_table,
        "order": Order._meta.db_table,
        "customer": Customer._meta.db_table,
        "channel": SalesChannel._meta.db_table,
        "preference": NotificationPreference._meta.db_table,
        "notification": Notification._meta.db_table,
    }


def event_batch_record(*, kind: str, product_id: int, first_event_id: int, last_event_id: int) -> EventBatch:
    """In the caller's transaction: remember that these events still need their notifications; they are
    written by a task right after commit (or by the relay if that task is lost)."""
    from config.celery import enqueue_on_commit

    from .tasks import event_batch_process as task

    batch = EventBatch.objects.create(
        kind=kind, product_id=product_id, first_event_id=first_event_id, last_event_id=last_event_id
    )
    enqueue_on_commit(task, batch.pk)
    return batch


def event_batch_process(*, batch_id: int) -> int:
    """Write the notification rows of one batch and delete it, in one transaction. Returns rows written.

    A batch another worker is processing (row locked) or has processed (row gone) is left alone.
    """
    from .services import notifications_enqueue_on_commit

    with transaction.atomic():
        batch = EventBatch.objects.select_for_update(skip_locked=True).filter(pk=batch_id).first()
        if batch is None:
            return 0
        with connection.cursor() as cursor:
            cursor.execute(
                _READY_SQL.format(**_tables()),
                {"first": batch.first_event_id, "last": batch.last_event_id, "product": batch.product_id},
            )
            ids = [row[0] for row in cursor.fetchall()]
        batch.delete()
        notifications_enqueue_on_commit(notification_ids=ids)
    return len(ids)


def event_batches_process_pending() -> int:
    """The relay's safety net: process every batch still waiting (its task was lost). Returns rows written."""
    written = 0
    for batch_id in EventBatch.objects.order_by("pk").values_list("pk", flat=True):
        written += event_batch_process(batch_id=batch_id)
    return written
