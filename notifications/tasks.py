"""Celery tasks of the outbox: take ids, call a service. Nothing else.

Every task retries with backoff when its database connection is lost (``core.queue.DB_RETRY``): each one acts on
the database state, so running it again is safe. The send task runs on its channel's queue
(``notifications.email`` / ``notifications.webhook``, chosen when it is published); the others on the default one.
"""

from celery import shared_task

from core.queue import DB_RETRY


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True, **DB_RETRY)
def notification_send(notification_id: int) -> str:
    from .delivery import notification_deliver

    return notification_deliver(notification_id=notification_id)


@shared_task(ignore_result=True, **DB_RETRY)
def notifications_relay() -> int:
    """Beat, every minute: write the notifications of any event batch left behind, then hand every due row
    that has no task in flight to the workers."""
    from .bulk import event_batches_process_pending
    from .services import notifications_relay as relay

    event_batches_process_pending()
    return relay()


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True, **{**DB_RETRY, "max_retries": 5})
def event_batch_process(batch_id: int) -> int:
    """Right after the allocation engine commits: its events' notification rows (idempotent)."""
    from .bulk import event_batch_process as process

    return process(batch_id=batch_id)


@shared_task(ignore_result=True, **DB_RETRY)
def notifications_periodic() -> dict:
    """Beat, hourly: regular updates for long waits, and long-delay incentives."""
    from .services import incentives_grant_due, notifications_regular_updates

    return {"regular_updates": notifications_regular_updates(), "incentives": incentives_grant_due()}
