"""Set-based outbox writes for large batches (PostgreSQL), and publishing them without one message per row.

``notifications_eta_changed_for_events`` is the twin of ``notifications_from_backorder_events`` for
``eta_changed`` events: the same rows (event, channel, dedupe key, recipient, context) and the same long-delay
incentives, written with one INSERT … SELECT instead of loading every backorder, order and customer into Python.
An ETA recompute can move every date of a 100,000-backorder queue at once, while it holds the product's stock
lock, so this matters.

``event_batch_record`` / ``event_batch_process`` write the allocation engine's "ready" rows right after its
commit, from the batch of events it recorded (see below).

``notifications_enqueue_bulk_on_commit`` publishes a send task per row for a few rows; for a large batch it
leaves the rows pending and publishes ONE relay task, which claims them in batches (SKIP LOCKED) and hands them
to the workers outside the causing transaction.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from .models import EventBatch, Incentive, Notification, NotificationPreference

logger = logging.getLogger(__name__)

# At most this many rows get a send task each at commit; more wait for one relay run.
BULK_PUBLISH_MAX = 200

# A backorder ``b`` as the hook sees it: the item's facts (``_item``), its order's customer and the facts
# ``_channels_for`` decides on. Joined by primary keys only, so a plan never depends on row estimates.
_BACKORDER_FACTS = """
           b.id AS backorder_id, b.order_id, b.order_line_id, b.status, b.quantity, b.eta, b.eta_basis,
           b.quantity - b.quantity_allocated - b.quantity_cancelled AS waiting, b.placed_at,
           p.sku, p.name, o.customer_id, o.currency, c.email,
           o.channel_id, COALESCE(ch.is_active, false) AS channel_active,
           COALESCE(np.preferred_channel = 'webhook', false) AS prefers_shop"""
_BACKORDER_JOINS = """
      JOIN {product} p ON p.id = b.product_id
      JOIN {order} o ON o.id = b.order_id
      JOIN {customer} c ON c.id = o.customer_id
      LEFT JOIN {channel} ch ON ch.id = o.channel_id
      LEFT JOIN {preference} np ON np.customer_id = c.id"""

# The events' backorders with those facts.
_EVENTS_WITH_FACTS = (
    """
      FROM {event} e
      JOIN {backorder} b ON b.id = e.backorder_id"""
    + _BACKORDER_JOINS
)


def _targets(source: str) -> str:
    """The CTE that fans rows of ``source`` (with an ``event`` column) out to their channels (_channels_for):
    e-mail unless the customer prefers the shop and the shop has an active endpoint for the event; one webhook
    row per active endpoint of an active shop subscribed to the event (``events ? event``: the JSON list holds it)."""
    return f"""
targets AS (
    SELECT {source}.*, 'email' AS channel, email AS recipient, NULL::bigint AS endpoint_id FROM {source}
     WHERE email <> '' AND NOT (prefers_shop AND channel_active AND EXISTS (
           SELECT 1 FROM {{endpoint}} w
            WHERE w.channel_id = {source}.channel_id AND w.is_active AND w.events ? {source}.event))
    UNION ALL
    SELECT {source}.*, 'webhook', w.url, w.id FROM {source}
      JOIN {{endpoint}} w ON w.channel_id = {source}.channel_id AND w.is_active AND w.events ? {source}.event
     WHERE channel_active
)"""


# Mirrors notifications.services: eta_change_is_news (direction, news), notifications_from_backorder_events
# (one row per order and channel, keyed by the order's first event), _item, _channels_for, _outbox_rows, and
# _incentive_due / _incentive_amount / _incentive_rows (once per backorder, announced per channel).
_ETA_CHANGED_SQL = (
    """
WITH ev AS (
    SELECT e.id AS event_id, COALESCE(NULLIF(e.quantity, 0), b.quantity) AS item_quantity,
           NULLIF(e.data->>'old', '')::date AS old_eta, NULLIF(e.data->>'new', '')::date AS new_eta,
           COALESCE(NULLIF(e.data->>'basis', ''), b.eta_basis) AS item_basis,"""
    + _BACKORDER_FACTS
    + _EVENTS_WITH_FACTS
    + """
     WHERE e.id = ANY(%(events)s::bigint[]) AND e.kind = 'eta_changed'
),
directed AS (
    SELECT ev.*,
           CASE WHEN old_eta IS NOT DISTINCT FROM new_eta THEN 'same'
                WHEN new_eta <= %(today)s THEN 'today'
                WHEN old_eta IS NULL THEN 'confirmed'
                WHEN new_eta IS NULL THEN 'unknown'
                WHEN new_eta < old_eta THEN 'earlier'
                ELSE 'later' END AS direction
      FROM ev
),
news AS (
    SELECT * FROM directed
     WHERE direction IN ('confirmed', 'unknown', 'earlier')
        OR (direction = 'later' AND new_eta - old_eta > %(threshold)s)
),
per_order AS (
    SELECT order_id, customer_id, email, channel_id, channel_active, prefers_shop,
           min(event_id) AS first_event_id, count(*) AS members, min(backorder_id) AS backorder_id,
           jsonb_agg(jsonb_build_object(
               'backorder_id', backorder_id, 'sku', sku, 'name', name, 'quantity', item_quantity,
               'waiting', waiting, 'status', status, 'eta', to_char(new_eta, 'YYYY-MM-DD'),
               'eta_basis', item_basis, 'old_eta', to_char(old_eta, 'YYYY-MM-DD'),
               'new_eta', to_char(new_eta, 'YYYY-MM-DD'), 'eta_direction', direction
           ) ORDER BY event_id) AS items,
           jsonb_agg(backorder_id ORDER BY event_id) AS backorder_ids
      FROM news
     GROUP BY order_id, customer_id, email, channel_id, channel_active, prefers_shop
),
due AS (
    SELECT backorder_id, order_line_id, quantity, currency,
           CASE WHEN placed_at <= %(waited_since)s THEN %(reason_waited)s
                WHEN eta > ((placed_at AT TIME ZONE 'UTC') + %(long_delay)s * interval '1 day')::date
                THEN %(reason_expected)s END AS reason
      FROM news
     WHERE %(long_delay)s > 0 AND status IN ('open', 'partially_allocated')
       AND NOT EXISTS (SELECT 1 FROM {incentive} i WHERE i.backorder_id = news.backorder_id)
),
granted AS (
    INSERT INTO {incentive} AS i (backorder_id, kind, code, amount, currency, reason, created_at)
    SELECT due.backorder_id, %(incentive_kind)s,
           %(code_prefix)s || '-' || upper(left(replace(gen_random_uuid()::text, '-', ''), 10)),
           round(LEAST(COALESCE(l.unit_price, 0) * due.quantity * %(percent)s::numeric / 100,
                       %(max_amount)s::numeric), 2),
           due.currency, due.reason, now()
      FROM due JOIN {order_line} l ON l.id = due.order_line_id
     WHERE due.reason IS NOT NULL
    ON CONFLICT DO NOTHING
    RETURNING i.backorder_id, i.kind, i.code, i.amount, i.currency, i.reason
),
announced AS (
    SELECT g.kind AS incentive_kind, g.code, g.amount, g.currency AS incentive_currency, g.reason,"""
    + _BACKORDER_FACTS
    + """
      FROM granted g
      JOIN {backorder} b ON b.id = g.backorder_id"""
    + _BACKORDER_JOINS
    + """
),
updates AS (
    SELECT 'eta_changed' AS event, order_id, customer_id, CASE WHEN members = 1 THEN backorder_id END AS backorder_id,
           'eta_changed:o' || order_id || ':e' || first_event_id AS key,
           items, '{{}}'::jsonb AS data, backorder_ids, email, channel_id, channel_active, prefers_shop
      FROM per_order
    UNION ALL
    SELECT 'incentive', order_id, customer_id, backorder_id, 'incentive:b' || backorder_id,
           jsonb_build_array(jsonb_build_object(
               'backorder_id', backorder_id, 'sku', sku, 'name', name, 'quantity', quantity, 'waiting', waiting,
               'status', status, 'eta', to_char(eta, 'YYYY-MM-DD'), 'eta_basis', eta_basis)),
           jsonb_build_object(
               'incentive', jsonb_build_object(
                   'kind', incentive_kind, 'kind_display', %(incentive_kind_display)s, 'code', code,
                   'amount', amount::text, 'currency', incentive_currency),
               'reason', reason),
           jsonb_build_array(backorder_id), email, channel_id, channel_active, prefers_shop
      FROM announced
),"""
    + _targets("updates")
    + """
INSERT INTO {notification} AS n
       (customer_id, order_id, backorder_id, event, channel, status, dedupe_key, recipient, webhook_endpoint_id,
        subject, body_text, body_html, payload, context, attempts, attempts_before_retry, next_attempt_at, last_error,
        created_at)
SELECT customer_id, order_id, backorder_id, event, channel, 'pending',
       key || ':' || channel || COALESCE(':' || endpoint_id, ''), recipient, endpoint_id,
       '', '', '', '{{}}'::jsonb,
       jsonb_build_object(
           'items', items, 'data', data, 'backorder_ids', backorder_ids,
           'occurred_at', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"'),
           'shipping_now', '[]'::jsonb),
       0, 0, now(), '', now()
  FROM targets
ON CONFLICT (dedupe_key) DO NOTHING
RETURNING n.id
"""
)


# --- the allocation engine's "ready" notifications, right after its commit -----------------------------------
#
# The engine reserves stock for up to tens of thousands of backorders in one transaction, holding the product's
# stock lock (order intake for that product waits meanwhile). It writes its backorder events and one
# ``EventBatch`` row in that transaction, not a notification per backorder. After commit a task turns the
# batch's events into "ready" rows with one INSERT … SELECT and deletes the batch, in one transaction. Nothing
# is lost: the batch row commits with the allocation, the dedupe keys make processing twice harmless, and the
# relay processes any batch whose task never ran (broker down, worker lost).

# The same rows as ``notifications_from_backorder_events`` writes for 'allocated' events (one event per order:
# a product has one line per order): same dedupe key, channels, recipient and context.
_READY_SQL = (
    """
WITH ev AS (
    SELECT e.id AS event_id, 'ready' AS event, e.quantity AS given, e.created_at AS occurred_at,"""
    + _BACKORDER_FACTS
    + _EVENTS_WITH_FACTS
    + """
     WHERE e.id BETWEEN %(first)s AND %(last)s AND b.product_id = %(product)s AND e.kind = 'allocated'
),"""
    + _targets("ev")
    + """
INSERT INTO {notification} AS n
       (customer_id, order_id, backorder_id, event, channel, status, dedupe_key, recipient, webhook_endpoint_id,
        subject, body_text, body_html, payload, context, attempts, attempts_before_retry, next_attempt_at, last_error,
        created_at)
SELECT customer_id, order_id, backorder_id, 'ready', channel, 'pending',
       'ready:o' || order_id || ':e' || event_id || ':' || channel || COALESCE(':' || endpoint_id, ''), recipient,
       endpoint_id, '', '', '', '{{}}'::jsonb,
       jsonb_build_object(
           'items', jsonb_build_array(jsonb_build_object(
               'backorder_id', backorder_id, 'sku', sku, 'name', name, 'quantity', given,
               -- as at the allocation (an 'allocated' event leaves nothing waiting), even if it shipped since
               'waiting', 0, 'status', 'allocated', 'eta', to_char(eta, 'YYYY-MM-DD'), 'eta_basis', eta_basis)),
           'data', '{{}}'::jsonb,
           'backorder_ids', jsonb_build_array(backorder_id),
           'occurred_at', to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"'),
           'shipping_now', '[]'::jsonb),
       0, 0, now(), '', now()
  FROM targets
ON CONFLICT (dedupe_key) DO NOTHING
RETURNING n.id
"""
)


def _tables() -> dict[str, str]:
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


def notifications_eta_changed_for_events(*, event_ids: list[int]) -> list[int]:
    """Write the outbox rows (and long-delay incentives) that these ``eta_changed`` events cause, in the
    caller's transaction, with one statement (PostgreSQL). Returns the new rows' ids, for the caller to publish
    with ``notifications_enqueue_bulk_on_commit`` (once for a whole batch of transactions, if it writes one).

    The same rows as ``notifications_from_backorder_events`` writes for the same events, read from the
    backorders as they are now (call it after the ETAs are written). Events are grouped per order as there;
    a product has one line per order, so an ETA recompute's chunk has one event per order. Idempotent: the
    dedupe keys and the one incentive per backorder make a second call write nothing.
    """
    if not event_ids:
        return []
    conf = settings.OMS
    now = timezone.now()
    long_delay = conf["NOTIFY_LONG_DELAY_DAYS"]
    kind = conf["NOTIFY_INCENTIVE_KIND"]
    if kind not in Incentive.Kind.values:
        kind = Incentive.Kind.DISCOUNT_CODE
    params = {
        "events": list(event_ids),
        "today": timezone.localdate(),
        "threshold": conf["NOTIFY_ETA_CHANGE_THRESHOLD_DAYS"],
        "long_delay": long_delay,
        "waited_since": now - timedelta(days=long_delay),
        "reason_waited": f"waited more than {long_delay} days",
        "reason_expected": f"expected more than {long_delay} days after the order",
        "incentive_kind": str(kind),
        "incentive_kind_display": str(Incentive.Kind(kind).label),
        "code_prefix": "THANKS" if kind == Incentive.Kind.DISCOUNT_CODE else "CREDIT",
        "percent": conf["NOTIFY_INCENTIVE_PERCENT"],
        "max_amount": conf["NOTIFY_INCENTIVE_MAX_AMOUNT"],
    }
    with connection.cursor() as cursor:
        cursor.execute(_ETA_CHANGED_SQL.format(**_tables()), params)
        return [row[0] for row in cursor.fetchall()]


def event_batch_record(*, kind: str, product_id: int, first_event_id: int, last_event_id: int) -> EventBatch:
    """In the caller's transaction: remember that these events still need their notifications; they are
    written by a task right after commit (or by the relay if that task is lost)."""
    from core.queue import enqueue_on_commit

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
        notifications_enqueue_bulk_on_commit(notification_ids=ids)
    return len(ids)


def event_batches_process_pending() -> int:
    """The relay's safety net: process every batch still waiting (its task was lost). Returns rows written."""
    written = 0
    for batch_id in EventBatch.objects.order_by("pk").values_list("pk", flat=True):
        try:
            written += event_batch_process(batch_id=batch_id)
        except Exception:  # noqa: BLE001 — one bad batch must not stop the relay; it stays for the next run
            logger.exception("Could not write the notifications of event batch %s; will retry", batch_id)
    return written


# --- publishing after commit --------------------------------------------------------------------


def notifications_enqueue_bulk_on_commit(*, notification_ids: list[int]) -> None:
    """After commit: a send task per row for a few rows, else ONE relay run for the whole batch.

    Publishing 100,000 messages would take longer than writing the rows. The rows of a large batch stay
    pending; the relay claims them in batches (SKIP LOCKED, several workers share them) and publishes their
    send tasks from a worker. It runs once the rows are past the relay's grace period for first attempts
    (``NOTIFY_SWEEP_GRACE_SECONDS``), so it finds them due. Never raises: with the broker down the rows wait
    for the relay that beat runs every minute.
    """
    from .services import notifications_enqueue_on_commit

    if not notification_ids:
        return
    from celery import current_app as app

    # With no broker (tasks run eagerly, in-process) there is no beat and no worker to run a relay later:
    # send each row now, as the per-row path does.
    if len(notification_ids) <= BULK_PUBLISH_MAX or app.conf.task_always_eager:
        notifications_enqueue_on_commit(notification_ids=list(notification_ids))
        return
    count = len(notification_ids)
    transaction.on_commit(lambda: notifications_relay_kick(pending=count))


def notifications_relay_kick(*, pending: int = 0) -> bool:
    """Publish one relay run, due when rows written now are past the grace period. Never raises."""
    from .tasks import notifications_relay

    countdown = settings.OMS["NOTIFY_SWEEP_GRACE_SECONDS"] + 1
    try:
        notifications_relay.apply_async(countdown=countdown)
    except Exception:  # noqa: BLE001 — whatever the broker raised, beat runs the relay every minute
        logger.warning("Could not publish a relay run for %d pending notification(s)", pending, exc_info=True)
        return False
    return True
