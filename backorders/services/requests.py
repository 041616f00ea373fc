"""Asking the workers to allocate stock or recompute ETAs, and the tasks' bookkeeping.

A request is recorded twice: durably, as a ``WorkRequest`` row written in the requester's transaction (one upsert
for all its products), and as a Celery message sent after commit (the fast path). The task that does the work
deletes the row when it is done, only if no request came in meanwhile (compare-and-delete on ``version``). A row
left behind (the message was lost with its worker or broker) is re-sent by ``work_requests_resend``: every few
seconds from beat, and when a worker starts. docs/operations.md, "Crash recovery".
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import timedelta

from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

logger = logging.getLogger("oms.tasks")

# An ETA run that keeps finding new requests at its end stops after this many rounds (the rest waits for its own
# message or the sweep), so one busy product cannot hold a worker forever.
ETA_RUN_ROUNDS = 3

_UPSERT_SQL = """
INSERT INTO {table} AS w (kind, product_id, created_at, requested_at, version, resent)
SELECT %s, p.id, %s, %s, 1, 0 FROM unnest(%s::bigint[]) AS p(id) ORDER BY p.id
ON CONFLICT (product_id, kind) DO UPDATE SET requested_at = EXCLUDED.requested_at, version = w.version + 1
"""


def work_requests_upsert_sql(*, kind: str, product_ids: Iterable[int]) -> tuple[str, list]:
    """``work_requests_record``'s statement (PostgreSQL; SQL, params), for a writer that sends it with its own."""
    from ..models import WorkRequest

    now = timezone.now()
    return _UPSERT_SQL.format(table=WorkRequest._meta.db_table), [kind, now, now, sorted(set(product_ids))]


def work_requests_record(*, kind: str, product_ids: Iterable[int]) -> list[int]:
    """Record that these products are owed work of this kind, in the caller's transaction (one statement).
    Returns the product ids, sorted (rows are locked in that order, so two requesters never wait in a circle)."""
    from ..models import WorkRequest

    ids = sorted(set(product_ids))
    if not ids:
        return ids
    now = timezone.now()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(*work_requests_upsert_sql(kind=kind, product_ids=ids))
        return ids
    table = WorkRequest._meta.db_table
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {table} (kind, product_id, created_at, requested_at, version, resent)"
            " VALUES (%s, %s, %s, %s, 1, 0) ON CONFLICT (product_id, kind)"
            f" DO UPDATE SET requested_at = excluded.requested_at, version = {table}.version + 1",
            [(kind, pk, now, now) for pk in ids],
        )
    return ids


def work_request_token(*, kind: str, product_id: int) -> tuple[int, int] | None:
    """What a task has to delete when it is done: the request row as it is before the work starts (read in its own
    statement, so the work, which reads later, sees everything this row asked for)."""
    from ..models import WorkRequest

    return WorkRequest.objects.filter(kind=kind, product_id=product_id).values_list("pk", "version").first()


def work_request_done(token: tuple[int, int] | None) -> bool:
    """Delete the request row if nobody asked again since ``token`` was read (then the row stays for the next run).
    Returns whether it was deleted."""
    from ..models import WorkRequest

    if token is None:
        return False
    deleted, _ = WorkRequest.objects.filter(pk=token[0], version=token[1]).delete()
    return bool(deleted)


def allocation_request(*, stock_item_ids: Iterable[int]) -> None:
    """Ask the workers to offer the free stock of these items to the queue, after commit."""
    from inventory.models import StockItem

    ids = list(stock_item_ids)
    if not ids:
        return
    from ..models import Backorder

    # Only products someone waits for: allocation offers free stock to waiting backorders and nothing else (a stock
    # count of 100,000 products must not publish 100,000 no-op tasks). Exact: every sender of ``stock_added`` holds
    # a lock on a stock item of the product, and a new backorder needs all of them (placement locks them first).
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT DISTINCT s.product_id FROM {StockItem._meta.db_table} s WHERE s.id = ANY(%s::bigint[])"
                f" AND EXISTS (SELECT 1 FROM {Backorder._meta.db_table} b WHERE b.product_id = s.product_id"
                " AND b.status = ANY(%s::text[]))",
                [ids, list(Backorder.WAITING)],
            )
            product_ids = {row[0] for row in cursor.fetchall()}
    else:
        product_ids = set(
            StockItem.objects.filter(pk__in=ids, product__backorders__status__in=Backorder.WAITING).values_list(
                "product_id", flat=True
            )
        )
    allocation_request_for_products(product_ids=product_ids)


def allocation_request_for_products(*, product_ids: Iterable[int]) -> None:
    from core.queue import enqueue_on_commit

    from ..models import WorkRequest
    from ..tasks import allocate_product

    for product_id in work_requests_record(kind=WorkRequest.Kind.ALLOCATE, product_ids=product_ids):
        enqueue_on_commit(allocate_product, product_id)


def eta_request(*, product_ids: Iterable[int], recorded: bool = False, one_message: bool = False) -> None:
    """Ask the workers to recompute the ETAs of these products' waiting backorders, after commit. ``recorded``: the
    caller wrote the request rows in its own statement (``work_requests_upsert_sql``). ``one_message``: a few
    products (an order's short lines) in one message, run one after the other by one worker (one publish instead
    of one per product); otherwise one message per product, so many products spread over the workers."""
    from core.queue import enqueue_on_commit

    from ..models import WorkRequest
    from ..tasks import eta_recompute, eta_recompute_products

    ids = (
        sorted(set(product_ids))
        if recorded
        else work_requests_record(kind=WorkRequest.Kind.ETA, product_ids=product_ids)
    )
    if one_message and len(ids) > 1:
        enqueue_on_commit(eta_recompute_products, ids)
        return
    for product_id in ids:
        enqueue_on_commit(eta_recompute, product_id)


def work_requests_resend(*, older_than_seconds: float, resend_every_seconds: float, limit: int = 1000) -> list:
    """Send again the message of every request still pending ``older_than_seconds`` after it was made (its message
    was lost: a worker killed mid-task, a purged broker) and not re-sent in the last ``resend_every_seconds``.
    Returns the (kind, product id) re-sent.

    Beat runs it every few seconds with a grace of a few seconds (a request is normally done well within it); a
    worker that starts runs it with no grace (whatever is pending may have died with its predecessor; a duplicate
    message is harmless: the tasks are idempotent). Rows a requester is writing right now are skipped, not waited
    for (SKIP LOCKED: this is a work queue, not a stock path)."""
    from core.queue import enqueue_on_commit

    from ..models import WorkRequest
    from ..tasks import allocate_product, eta_recompute

    tasks = {WorkRequest.Kind.ALLOCATE: allocate_product, WorkRequest.Kind.ETA: eta_recompute}
    now = timezone.now()
    with transaction.atomic():
        rows = list(
            WorkRequest.objects.select_for_update(skip_locked=True)
            .filter(requested_at__lte=now - timedelta(seconds=older_than_seconds))
            .filter(Q(resent_at__isnull=True) | Q(resent_at__lte=now - timedelta(seconds=resend_every_seconds)))
            .order_by("requested_at")
            .values_list("pk", "kind", "product_id")[:limit]
        )
        if not rows:
            return []
        WorkRequest.objects.filter(pk__in=[pk for pk, _, _ in rows]).update(resent=F("resent") + 1, resent_at=now)
        for _, kind, product_id in rows:
            enqueue_on_commit(tasks[kind], product_id)
    logger.warning("Re-sent %s pending work request(s): %s", len(rows), [(k, p) for _, k, p in rows][:20])
    return [(kind, product_id) for _, kind, product_id in rows]


def allocation_run(*, product_id: int, max_attempts: int) -> int:
    """Run the allocation engine for one product with bookkeeping (the task calls this).

    The attempt counter is committed *before* the engine runs, so a message that kills its worker still
    counts; after ``max_attempts`` consecutive failures the product is skipped until staff reset it (and its
    pending request is dropped: ``allocation_run_reset`` asks again). The product's request row is deleted when
    the run is done, unless a request came in meanwhile.
    """
    from django.db import IntegrityError

    from ..allocation import backorders_allocate
    from ..models import AllocationRun, WorkRequest

    token = work_request_token(kind=WorkRequest.Kind.ALLOCATE, product_id=product_id)
    now = timezone.now()
    try:
        with transaction.atomic():
            AllocationRun.objects.get_or_create(product_id=product_id)
    except IntegrityError:  # created by a concurrent run
        pass
    run = AllocationRun.objects.get(product_id=product_id)
    if run.attempts >= max_attempts:
        logger.error(
            "Allocation of product %s skipped after %s failed attempts: %s", product_id, run.attempts, run.last_error
        )
        work_request_done(token)
        return 0
    AllocationRun.objects.filter(pk=run.pk).update(attempts=F("attempts") + 1, runs=F("runs") + 1, last_run_at=now)
    try:
        with transaction.atomic():
            before = allocation_record_start(product_id=product_id)
            units = backorders_allocate(product_id=product_id)
            allocation_record_write(product_id=product_id, before=before, units=units)
    except Exception as exc:
        AllocationRun.objects.filter(pk=run.pk).update(last_error=f"{type(exc).__name__}: {exc}"[:2000])
        raise
    AllocationRun.objects.filter(pk=run.pk).update(
        attempts=0, last_error="", last_success_at=timezone.now(), units_allocated=units
    )
    if units:
        with transaction.atomic():
            eta_request(product_ids=[product_id])
    # Not in the transaction above: holding the ETA row while waiting for a requester's lock on this one could
    # wait in a circle with a receipt (which writes this row, then the ETA row). A crash in between leaves this
    # row: the allocation runs once more (a no-op).
    work_request_done(token)
    return units


def allocation_run_reset(*, product_id: int) -> None:
    """Let a product that was skipped as a poison message be allocated again (after the cause is fixed)."""
    from ..models import AllocationRun

    AllocationRun.objects.filter(product_id=product_id).update(attempts=0, last_error="")
    with transaction.atomic():
        allocation_request_for_products(product_ids=[product_id])


def eta_recompute_run(*, product_id: int) -> int:
    """Recompute a product's ETAs, one recompute per product at a time, coalescing requests (the task calls this).

    A run holds the product's recompute lock (``eta_recompute_lock``). A run that finds it taken returns at once:
    the running one checks, after it let the lock go, whether a request came in since it read the request row, and
    if so runs once more (so a request never waits for the sweep while a run is going on, and N requests during a
    run cost one more run, not N). Returns the ETAs changed.
    """
    from ..eta import eta_recompute_lock, eta_recompute_product
    from ..models import WorkRequest

    written = 0
    for _ in range(ETA_RUN_ROUNDS):
        with eta_recompute_lock(product_id) as acquired:
            if not acquired:
                return written
            token = work_request_token(kind=WorkRequest.Kind.ETA, product_id=product_id)
            written += eta_recompute_product(product_id=product_id)
            work_request_done(token)
        # Checked after the lock is released: a request committed later finds the lock free and runs itself.
        if not WorkRequest.objects.filter(kind=WorkRequest.Kind.ETA, product_id=product_id).exists():
            break
    return written


# --- the record of each allocation run (docs/promises.md, "Explain every place in the queue") -------------------

PASSED_OVER_SHOWN = 50
SERVED_SHOWN = 500


def allocation_record_start(*, product_id: int) -> tuple[int, int] | None:
    """Under the product's stock lock (the engine takes it again in the same transaction): the last event id so far
    and the free units, or None when there is nothing to hand out (no record then)."""
    from django.db.models import Max

    from inventory.locks import stock_items_lock_for_products
    from inventory.routing import sellable_units

    from ..models import BackorderEvent

    free = sum(sellable_units(item) for item in stock_items_lock_for_products([product_id]))
    if free <= 0:
        return None
    last = BackorderEvent.objects.aggregate(last=Max("id"))["last"] or 0
    return last, free


def allocation_record_write(*, product_id: int, before: tuple[int, int] | None, units: int) -> None:
    """One row for the run: who got what (this run's allocation events, in queue order) and the first backorders
    still waiting (passed over: the units ran out before their turn). Three reads and one insert."""
    from ..allocation import _source_reference
    from ..models import AllocationRecord, BackorderEvent
    from ..selectors import backorder_queue

    if before is None:
        return
    last_event, free = before
    served = [
        {"backorder": pk, "position": (data or {}).get("queue_position"), "units": quantity,
         "outstanding_after": (data or {}).get("outstanding_after")}
        for pk, quantity, data in BackorderEvent.objects.filter(
            pk__gt=last_event, backorder__product_id=product_id,
            kind__in=[BackorderEvent.Kind.ALLOCATED, BackorderEvent.Kind.PARTIALLY_ALLOCATED],
        ).order_by("pk").values_list("backorder_id", "quantity", "data")[:SERVED_SHOWN]
    ]  # fmt: skip
    queue = backorder_queue(product_id=product_id)
    offset = len([s for s in served if s["outstanding_after"]])  # a partly served one is still first in line
    passed = [
        {"backorder": pk, "position": index, "waiting": quantity - allocated - cancelled}
        for index, (pk, quantity, allocated, cancelled) in enumerate(
            queue.values_list("pk", "quantity", "quantity_allocated", "quantity_cancelled")[:PASSED_OVER_SHOWN],
            start=1,
        )
    ]
    if not served and not passed:
        return
    why = (
        f"the {free} free unit(s) went to the {len(served)} backorder(s) ahead in the queue"
        if served
        else f"the {free} free unit(s) could not be given (nothing was allocated in this run)"
    )
    for entry in passed:
        entry["why"] = why
    AllocationRecord.objects.create(
        product_id=product_id,
        run_at=timezone.now(),
        source=_source_reference(product_id)[:200],
        units_free=free,
        units_allocated=units,
        served=served,
        passed_over=[p for p in passed if p["backorder"] not in {s["backorder"] for s in served}],
        passed_over_count=queue.count() - offset,
    )
