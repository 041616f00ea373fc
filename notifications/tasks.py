"""Celery tasks of the outbox: take ids, call a service. Nothing else."""

from celery import shared_task
from django.db import OperationalError


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def notification_send(notification_id: int) -> str:
    from .delivery import notification_deliver

    return notification_deliver(notification_id=notification_id)


@shared_task(ignore_result=True)
def notifications_relay() -> int:
    """Beat, every minute: write the notifications of any event batch left behind, then hand every due row
    that has no task in flight to the workers."""
    from .bulk import event_batches_process_pending
    from .services import notifications_relay as relay

    event_batches_process_pending()
    return relay()


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
)
def event_batch_process(batch_id: int) -> int:
    """Right after the allocation engine commits: its events' notification rows (idempotent)."""
    from .bulk import event_batch_process as process

    return process(batch_id=batch_id)


@shared_task(ignore_result=True)
def notifications_periodic() -> dict:
    """Beat, hourly: regular updates for long waits, and long-delay incentives."""
    from .services import incentives_grant_due, notifications_regular_updates

    return {"regular_updates": notifications_regular_updates(), "incentives": incentives_grant_due()}
