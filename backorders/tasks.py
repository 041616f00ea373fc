"""Celery tasks of backorders: take ids, act on the database state (idempotent), nothing else."""

from __future__ import annotations

import logging

from celery import shared_task

from core.queue import DB_CONNECTION_ERRORS

logger = logging.getLogger("oms.tasks")

# A message for one product that failed this many times in a row is not run again (poison message).
MAX_ATTEMPTS = 5


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=DB_CONNECTION_ERRORS,
    retry_backoff=True,
    retry_backoff_max=60,
    retry_jitter=True,
    max_retries=MAX_ATTEMPTS,
)
def allocate_product(product_id: int) -> int:
    from .services import allocation_run

    return allocation_run(product_id=product_id, max_attempts=MAX_ATTEMPTS)


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=DB_CONNECTION_ERRORS,
    retry_backoff=True,
    retry_backoff_max=60,
    max_retries=MAX_ATTEMPTS,
)
def eta_recompute(product_id: int) -> int:
    from .services import eta_recompute_run

    return eta_recompute_run(product_id=product_id)


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=DB_CONNECTION_ERRORS,
    retry_backoff=True,
    retry_backoff_max=60,
    max_retries=MAX_ATTEMPTS,
)
def eta_recompute_products(product_ids: list[int]) -> int:
    """The ETA recomputes of several products asked for at once (an order's short lines): one message, each product
    run as ``eta_recompute`` runs it (coalesced per product; a retry runs them again, which is harmless)."""
    from .services import eta_recompute_run

    return sum(eta_recompute_run(product_id=product_id) for product_id in product_ids)


@shared_task(acks_late=True)
def allocation_sweep() -> list[int]:
    """Re-run allocation for every product with free stock and waiting backorders (a lost message heals)."""
    from .selectors import products_needing_allocation

    product_ids = products_needing_allocation()
    for product_id in product_ids:
        allocate_product.apply_async(args=[product_id])
    return product_ids


@shared_task(acks_late=True)
def pending_work_sweep(on_worker_start: bool = False) -> list:
    """Re-send the messages of allocation and ETA requests still pending (lost with a worker or the broker).
    Beat sends it every few seconds; every worker sends it once when it starts (``on_worker_start``: no grace)."""
    from django.conf import settings

    from .services import work_requests_resend

    grace = 0 if on_worker_start else settings.OMS["WORK_REQUEST_GRACE_SECONDS"]
    every = 0 if on_worker_start else settings.OMS["WORK_REQUEST_RESEND_SECONDS"]
    return work_requests_resend(older_than_seconds=grace, resend_every_seconds=every)


@shared_task(acks_late=True)
def eta_sweep() -> int:
    from .eta import eta_recompute_all

    return eta_recompute_all()


@shared_task(acks_late=True)
def sla_sweep() -> int:
    """Backorders past their SLA ship-by date: marked breached once, priority raised by the policy."""
    from .services import backorders_sla_enforce

    return backorders_sla_enforce()
