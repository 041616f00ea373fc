"""Asking the workers to allocate stock or recompute ETAs (after commit), and the allocation task's bookkeeping."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone


def allocation_request(*, stock_item_ids: Iterable[int]) -> None:
    """Ask the workers to offer the free stock of these items to the queue, after commit."""
    from inventory.models import StockItem

    ids = list(stock_item_ids)
    if not ids:
        return
    product_ids = set(StockItem.objects.filter(pk__in=ids).values_list("product_id", flat=True))
    allocation_request_for_products(product_ids=product_ids)


def allocation_request_for_products(*, product_ids: Iterable[int]) -> None:
    from core.queue import enqueue_on_commit

    from ..tasks import allocate_product

    for product_id in sorted(set(product_ids)):
        enqueue_on_commit(allocate_product, product_id)


def eta_request(*, product_ids: Iterable[int]) -> None:
    """Ask the workers to recompute the ETAs of these products' waiting backorders, after commit."""
    from core.queue import enqueue_on_commit

    from ..tasks import eta_recompute

    for product_id in sorted(set(product_ids)):
        enqueue_on_commit(eta_recompute, product_id)


def allocation_run(*, product_id: int, max_attempts: int) -> int:
    """Run the allocation engine for one product with bookkeeping (the task calls this).

    The attempt counter is committed *before* the engine runs, so a message that kills its worker still
    counts; after ``max_attempts`` consecutive failures the product is skipped until staff reset it.
    """
    from django.db import IntegrityError
    from django.db.models import F

    from ..allocation import backorders_allocate
    from ..models import AllocationRun

    now = timezone.now()
    try:
        with transaction.atomic():
            AllocationRun.objects.get_or_create(product_id=product_id)
    except IntegrityError:  # created by a concurrent run
        pass
    run = AllocationRun.objects.get(product_id=product_id)
    if run.attempts >= max_attempts:
        import logging

        logging.getLogger("oms.tasks").error(
            "Allocation of product %s skipped after %s failed attempts: %s", product_id, run.attempts, run.last_error
        )
        return 0
    AllocationRun.objects.filter(pk=run.pk).update(attempts=F("attempts") + 1, runs=F("runs") + 1, last_run_at=now)
    try:
        units = backorders_allocate(product_id=product_id)
    except Exception as exc:
        AllocationRun.objects.filter(pk=run.pk).update(last_error=f"{type(exc).__name__}: {exc}"[:2000])
        raise
    AllocationRun.objects.filter(pk=run.pk).update(
        attempts=0, last_error="", last_success_at=timezone.now(), units_allocated=units
    )
    if units:
        with transaction.atomic():
            eta_request(product_ids=[product_id])
    return units


def allocation_run_reset(*, product_id: int) -> None:
    """Let a product that was skipped as a poison message be allocated again (after the cause is fixed)."""
    from ..models import AllocationRun

    AllocationRun.objects.filter(product_id=product_id).update(attempts=0, last_error="")
    with transaction.atomic():
        allocation_request_for_products(product_ids=[product_id])
