"""Set-based outbox writes for large batches (PostgreSQL), and publishing them without one message per row.

``notifications_eta_changed_for_events`` is the twin of ``notifications_from_backorder_events`` for
``eta_changed`` events: the same rows (event, channel, dedupe key, recipient, context) and the same long-delay
incentives, written with one INSERT … SELECT instead of loading every backorder, order and customer into Python.
An ETA recompute can move every date of a 100,000-backorder queue at once, while it holds the product's stock
lock, so this matters.

``event_batch_record`` / ``event_batch_process`` write the allocation engine's "ready" rows right after its
commit, from the batch of events it recorded (see below); an ETA rewrite records one batch per chunk and writes
the rows of all of them in one statement after its last chunk (``event_batches_process``), outside the stock lock.

``notifications_enqueue_bulk_on_commit`` publishes a send task per row for a few rows; for a large batch it
leaves the rows pending and publishes ONE relay task, which claims them in batches (SKIP LOCKED) and hands them
to the workers outside the causing transaction.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import connection, transaction

from .bulk_eta import notifications_eta_changed_for_events, notifications_eta_changed_for_range  # noqa: F401
from .models import EventBatch
from .outbox_sql import BACKORDER_FACTS, EVENTS_WITH_FACTS, tables, targets_sql

logger = logging.getLogger(__name__)

# At most this many rows get a send task each at commit; more wait for one relay run.
BULK_PUBLISH_MAX = 200

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
    + BACKORDER_FACTS
    + EVENTS_WITH_FACTS
    + """
     WHERE e.id BETWEEN %(first)s AND %(last)s AND b.product_id = %(product)s AND e.kind = 'allocated'
),"""
    + targets_sql("ev")
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


def event_batch_record(
    *, kind: str, product_id: int, first_event_id: int, last_event_id: int, publish: bool = True
) -> EventBatch:
    """In the caller's transaction: remember that these events still need their notifications; they are
    written by a task right after commit (or by the relay if that task is lost). ``publish=False``: the caller
    processes the batch itself once it is done (``event_batches_process``); the relay stays the safety net."""
    from core.queue import enqueue_on_commit

    from .tasks import event_batch_process as task

    batch = EventBatch.objects.create(
        kind=kind, product_id=product_id, first_event_id=first_event_id, last_event_id=last_event_id
    )
    if publish:
        enqueue_on_commit(task, batch.pk)
    return batch


def event_batch_process(*, batch_id: int) -> int:
    """Write the notification rows of one batch and delete it, in one transaction. Returns rows written.

    A batch another worker is processing (row locked) or has processed (row gone) is left alone.
    """
    return event_batches_process(batch_ids=[batch_id])


def event_batches_process(*, batch_ids: list[int]) -> int:
    """Write the notification rows of these batches and delete them, in one transaction: the "ready" rows of each
    allocation batch, and the rows of all the ETA batches in ONE statement (an ETA rewrite's chunks). Batches
    another worker holds (row locked) or has processed (row gone) are left alone. Returns rows written."""
    if not batch_ids:
        return 0
    with transaction.atomic():
        batches = list(
            EventBatch.objects.select_for_update(skip_locked=True).filter(pk__in=list(batch_ids)).order_by("pk")
        )
        if not batches:
            return 0
        ids: list[int] = []
        # The ETA batches of one product (the chunks of a rewrite): one statement over their whole id range.
        eta_ranges: dict[int, tuple[int, int]] = {}
        for batch in batches:
            if batch.kind == EventBatch.Kind.ETA_CHANGED:
                first, last = eta_ranges.get(batch.product_id, (batch.first_event_id, batch.last_event_id))
                eta_ranges[batch.product_id] = (min(first, batch.first_event_id), max(last, batch.last_event_id))
        for product_id, (first, last) in sorted(eta_ranges.items()):
            ids += notifications_eta_changed_for_range(product_id=product_id, first_event_id=first, last_event_id=last)
        with connection.cursor() as cursor:
            for batch in batches:
                if batch.kind != EventBatch.Kind.READY:
                    continue
                cursor.execute(
                    _READY_SQL.format(**tables()),
                    {"first": batch.first_event_id, "last": batch.last_event_id, "product": batch.product_id},
                )
                ids += [row[0] for row in cursor.fetchall()]
        EventBatch.objects.filter(pk__in=[batch.pk for batch in batches]).delete()
        notifications_enqueue_bulk_on_commit(notification_ids=ids)
    return len(ids)


def event_batches_process_pending() -> int:
    """The relay's safety net: process every batch still waiting (its task was lost). Returns rows written.

    The ETA batches of one product are processed together, as the rewrite that left them would have (one digest per
    customer for the whole rewrite), and not while a rewrite of that product is running: its own follow-up writes
    them after its last chunk."""
    from backorders.eta import eta_recompute_lock

    groups: list[list[int]] = []
    eta_batches: dict[int, list[int]] = {}
    for pk, kind, product_id in EventBatch.objects.order_by("pk").values_list("pk", "kind", "product_id"):
        if kind == EventBatch.Kind.ETA_CHANGED:
            eta_batches.setdefault(product_id, []).append(pk)
        else:
            groups.append([pk])
    for product_id, batch_ids in eta_batches.items():
        with eta_recompute_lock(product_id) as acquired:
            pass  # released at once: a recompute that starts now writes (and processes) batches of its own
        if acquired:
            groups.append(batch_ids)
    written = 0
    for batch_ids in groups:
        try:
            written += event_batches_process(batch_ids=batch_ids)
        except Exception:  # noqa: BLE001 — one bad batch must not stop the relay; it stays for the next run
            logger.exception("Could not write the notifications of event batch(es) %s; will retry", batch_ids)
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
