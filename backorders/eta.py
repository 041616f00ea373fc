"""Available-to-promise: writing the date each waiting backorder can expect its units.

The rules of the dates (expected date and promise) are in ``backorders.projection``; docs/promises.md.

Every change writes an ``eta_changed`` event (old, new, basis), only for rows that changed, and the customer
notifications it causes; ``eta_first`` keeps the first date ever promised. On PostgreSQL a chunk of changes is
written set-based (one statement for the dates and their events, with a marker row for their notifications), and
the notifications of every chunk are written once after the last one, in one statement outside the stock lock;
elsewhere through ``events_record`` and the Python outbox hook (the same rows).

Concurrency: every write is a compare-and-set (a row is written, and gets its event, only if its date, basis and
purchase-order line are still the ones the recompute read), so two recomputes of a product can never announce the
same change twice. On PostgreSQL the recomputes of one product are also serialised (``eta_recompute_lock``, a
session advisory lock held for the whole recompute), and requests that arrive meanwhile are coalesced into one more
run (``backorders.services.eta_recompute_run``; docs/operations.md, "ETA recomputes").
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import NamedTuple

from django.db import connection, transaction
from django.db.models import F, Sum
from django.utils import timezone

from core.sql import fetch_together_prepared
from core.sql_arrays import array_literal
from inventory.locks import stock_items_lock_for_products

from .eta_changes import eta_changes
from .events import events_record
from .models import Backorder, BackorderEvent
from .projection import Eta, eta_project, supplies_from, supplies_reads, supply_read
from .queue import ahead_of
from .reasons import reasons_decide, reasons_read, reasons_windows
from .signals import after_eta_events, follow_ups_run
from .supply import supply_sources

# Rows written per transaction: each chunk holds the product's stock lock (and so blocks order intake for
# that product) only briefly, even when a new purchase order moves every date of a long queue. On PostgreSQL
# (set-based) a chunk of 1,000 with its events, notifications and incentives takes ~0.1 s (0.25 s at worst) in
# bench/eta.py; bigger chunks were no faster per row, and hold the lock longer.
ETA_WRITE_CHUNK = 2000
ETA_WRITE_CHUNK_SQL = 1000

# The first key of the product's advisory lock (pg_try_advisory_lock(namespace, product)): "ETA1".
ETA_LOCK_NAMESPACE = 0x45544131


@contextmanager
def eta_recompute_lock(product_id: int) -> Iterator[bool]:
    """Try to take the product's recompute lock (PostgreSQL session advisory lock) for the block; yields whether it
    was taken. Never waits: a recompute already running covers whoever was refused (see eta_recompute_run).
    Elsewhere (SQLite, one process) there is nothing to take: yields True."""
    if connection.vendor != "postgresql":
        yield True
        return
    key = (ETA_LOCK_NAMESPACE, product_id % 2**31)  # two int4 keys; ids past 2**31 share a lock (harmless)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", key)
        acquired = cursor.fetchone()[0]
    try:
        yield acquired
    finally:
        if acquired:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", key)


def eta_recompute_product(*, product_id: int) -> int:
    """Recompute the ETAs of a product's waiting backorders; returns how many changed.

    The queue and the supply are read together under the product's stock lock (a consistent picture), then
    the changed dates are written in chunks, each in its own short transaction under the stock lock with its
    ``eta_changed`` events (and the notifications they cause). A row that stopped waiting in between, or whose
    date another writer changed since the read (compare-and-set), is left alone. If the queue moves meanwhile,
    that move requests the next recompute. Callers that may run concurrently go through ``eta_recompute_run``.
    """
    with transaction.atomic():
        # The stock lock serialises this read with allocation and order placement for the product.
        stock_items_lock_for_products([product_id])
        changed = eta_changes(product_id=product_id, today=timezone.localdate())
    size = ETA_WRITE_CHUNK_SQL if connection.vendor == "postgresql" else ETA_WRITE_CHUNK
    written = 0
    follow_ups: list = []
    try:
        for start in range(0, len(changed), size):
            written += _write_chunk(product_id, changed[start : start + size], follow_ups)
    finally:
        # After the chunks' commits, what the listeners asked for once per rewrite (notifications: one publish for
        # every row written; whatever an error left unpublished, the relay's schedule picks up).
        follow_ups_run(follow_ups)
    return written


def _write_chunk(product_id: int, chunk, follow_ups: list | None = None) -> int:
    """Write one chunk of changes (pk, eta, basis, line, first, old eta, old basis, old line, expected, confidence)
    in one transaction
    under the stock lock, skipping rows that stopped waiting or whose date, basis or line is no longer the old one
    (compare-and-set). Returns how many rows were written.

    On PostgreSQL the listeners' follow-ups (``signals.eta_events_recorded``) are added to ``follow_ups`` for the
    caller to run once after its last chunk (without it, they run in this chunk's transaction)."""
    if connection.vendor == "postgresql":
        with transaction.atomic():
            stock_items_lock_for_products([product_id])
            written, chunk_follow_ups = _write_chunk_sql(product_id, chunk)
            if follow_ups is None:
                follow_ups_run(chunk_follow_ups)
        if follow_ups is not None:
            follow_ups += chunk_follow_ups  # committed (or part of the caller's transaction)
        return written
    return _write_chunk_python(product_id, chunk)


def _write_chunk_python(product_id: int, chunk) -> int:
    with transaction.atomic():
        stock_items_lock_for_products([product_id])
        current = {
            pk: (eta, basis, line)
            for pk, eta, basis, line in Backorder.objects.filter(
                pk__in=[row[0] for row in chunk], status__in=Backorder.WAITING
            ).values_list("pk", "eta", "eta_basis", "eta_purchase_order_line_id")
        }
        chunk = [row for row in chunk if current.get(row[0]) == (row[5], row[6], row[7])]
        if not chunk:
            return 0
        _write([(*row[:5], *row[8:10]) for row in chunk])
        events_record(
            [
                BackorderEvent(
                    backorder_id=pk,
                    kind=BackorderEvent.Kind.ETA_CHANGED,
                    message=f"Expected date {_iso(old_eta) or 'none'} → {_iso(eta) or 'none'} ({basis}).",
                    data={"old": _iso(old_eta), "new": _iso(eta), "basis": basis, "old_basis": old_basis},
                )
                for pk, eta, basis, _, _, old_eta, old_basis, _, _, _ in chunk
                if eta != old_eta or basis != old_basis
            ]
        )
    return len(chunk)


# The dates, their events (same message and data as _write_chunk_python writes) in one statement; a row that
# stopped waiting, or whose date, basis or line is no longer the one read (another recompute wrote it: compare-and-
# set), is neither updated nor gets an event. Returns the rows updated and the new events' ids.
# ``b.id = ANY(ids)`` repeats the join as an index condition: joined to the unnest alone, the planner hashed the whole
# backorder table for every chunk of 1,000 (30 of its 46 ms in bench/eta.py).
_CHUNK_SQL = """
WITH x AS (
    SELECT *
      FROM unnest(%(ids)s::bigint[], %(etas)s::date[], %(bases)s::text[], %(lines)s::bigint[], %(firsts)s::date[],
                  %(old_etas)s::date[], %(old_bases)s::text[], %(old_lines)s::bigint[], %(expected)s::date[],
                  %(confidence)s::float8[])
           WITH ORDINALITY AS x(id, eta, basis, line, first, old_eta, old_basis, old_line, expected, confidence,
                                position)
),
moved AS (
    UPDATE {backorder} b
       SET eta = x.eta, eta_basis = x.basis, eta_purchase_order_line_id = x.line, eta_first = x.first,
           eta_expected = x.expected, eta_confidence = x.confidence, eta_updated_at = %(now)s
      FROM x
     WHERE b.id = x.id AND b.id = ANY(%(ids)s::bigint[]) AND b.status IN %(waiting)s
       AND b.eta IS NOT DISTINCT FROM x.old_eta AND b.eta_basis = x.old_basis
       AND b.eta_purchase_order_line_id IS NOT DISTINCT FROM x.old_line
 RETURNING x.*
),
recorded AS (
    INSERT INTO {event} (backorder_id, kind, quantity, message, data, actor, created_by_id, created_at)
    SELECT id, %(kind)s, NULL,
           'Expected date ' || COALESCE(to_char(old_eta, 'YYYY-MM-DD'), 'none') || ' → '
               || COALESCE(to_char(eta, 'YYYY-MM-DD'), 'none') || ' (' || basis || ').',
           jsonb_build_object('old', to_char(old_eta, 'YYYY-MM-DD'), 'new', to_char(eta, 'YYYY-MM-DD'),
                              'basis', basis, 'old_basis', old_basis),
           'system', NULL, %(now)s
      FROM moved
     WHERE eta IS DISTINCT FROM old_eta OR basis IS DISTINCT FROM old_basis
     ORDER BY position
 RETURNING id
)
SELECT (SELECT count(*) FROM moved), COALESCE((SELECT array_agg(id ORDER BY id) FROM recorded), '{{}}')
"""


def _write_chunk_sql(product_id: int, chunk) -> tuple[int, list]:
    """PostgreSQL: the chunk's dates and events in one statement; the listeners record what follows in the same
    transaction. Returns the rows written and the listeners' follow-ups (not yet run)."""
    columns = list(zip(*chunk, strict=True))
    params = {
        name: array_literal(values)
        for name, values in zip(
            ("ids", "etas", "bases", "lines", "firsts", "old_etas", "old_bases", "old_lines", "expected", "confidence"),
            columns,
            strict=True,
        )
    }
    params["now"] = timezone.now()
    params["waiting"] = Backorder.WAITING_VALUES
    params["kind"] = BackorderEvent.Kind.ETA_CHANGED.value
    sql = _CHUNK_SQL.format(backorder=Backorder._meta.db_table, event=BackorderEvent._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        written, event_ids = cursor.fetchone()
    return written, after_eta_events(product_id=product_id, event_ids=event_ids)


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None


def _write(changed) -> None:
    """Rows (pk, eta, basis, line, first, expected, confidence)."""
    now = timezone.now()
    if connection.vendor == "postgresql":
        ids, etas, bases, lines, firsts, expected, confidence = (list(column) for column in zip(*changed, strict=True))
        with connection.cursor() as cursor:
            cursor.execute(
                f"""UPDATE {Backorder._meta.db_table} b
                       SET eta = x.eta, eta_basis = x.basis, eta_purchase_order_line_id = x.line,
                           eta_first = x.first, eta_expected = x.expected, eta_confidence = x.confidence,
                           eta_updated_at = %s
                      FROM unnest(%s::bigint[], %s::date[], %s::text[], %s::bigint[], %s::date[], %s::date[],
                                  %s::float8[])
                           AS x(id, eta, basis, line, first, expected, confidence)
                     WHERE b.id = x.id""",
                [now, ids, etas, [str(b) for b in bases], lines, firsts, expected, confidence],
            )
        return
    objects = [
        Backorder(
            pk=pk,
            eta=eta,
            eta_basis=basis,
            eta_purchase_order_line_id=line,
            eta_first=first,
            eta_expected=expected,
            eta_confidence=confidence,
            eta_updated_at=now,
        )
        for pk, eta, basis, line, first, expected, confidence in changed
    ]
    Backorder.objects.bulk_update(
        objects,
        ["eta", "eta_basis", "eta_purchase_order_line_id", "eta_first", "eta_expected", "eta_confidence",
         "eta_updated_at"],
        batch_size=500,
    )  # fmt: skip


class NewcomerEta(NamedTuple):
    """``Eta`` (same fields, same positions) of a backorder about to join its queue, and its reason."""

    eta: date | None
    basis: str
    line_id: int | None
    expected: date | None
    confidence: float | None
    overdue_units: int
    reason: str


def _newcomer_reads(*, product_ids, priority_rank, priority_score, placed_at, since, baseline_since, quality_since):
    """The reads of ``etas_for_newcomers``: the waiting demand ahead, the reasons' facts, the supply."""
    ahead = (
        Backorder.objects.filter(product_id__in=product_ids, status__in=Backorder.WAITING)
        .filter(ahead_of(priority_rank=priority_rank, priority_score=priority_score, placed_at=placed_at))
        .order_by()
        .values("product_id")
        .annotate(units=Sum(F("quantity") - F("quantity_allocated") - F("quantity_cancelled")))
        .values_list("product_id", "units")
    )
    reasons = reasons_read(product_ids, since=since, baseline_since=baseline_since, quality_since=quality_since)
    return [ahead, reasons, *supplies_reads(product_ids)]


def etas_for_newcomers(*, lines, priority_rank: int, priority_score, placed_at) -> list[NewcomerEta]:
    """The dates of backorders about to join their products' queues now, one per ``(product_id, shortfall,
    units ordered)``, by the recompute's rules: the supply that covers the waiting demand ahead of each in queue
    order plus its own units; and each one's reason (``reasons``; the order's units count in its recent demand).

    Everything is read in ONE round trip whatever the number of lines (``projection.supplies_read``): the demand
    ahead, the free stock, the supply port's reads and the reasons' facts. Order placement stores the dates on the
    new backorders, so the order's answer and its "backorder created" message carry a date at once; the background
    recompute that follows confirms them (or moves them, and says so).
    """
    today = timezone.localdate()
    ids = sorted({product_id for product_id, _, _ in lines})
    # Built and compiled once per number of products (core.sql.fetch_together_prepared), then only the values move.
    rows = fetch_together_prepared(
        ("eta.newcomers", *(source.name for source in supply_sources())),
        _newcomer_reads,
        product_ids=ids,
        priority_rank=priority_rank,
        priority_score=priority_score,
        placed_at=placed_at,
        **reasons_windows(timezone.now()),
    )
    ahead_rows, reason_rows = rows[0], rows[1]
    supplies = supplies_from(ids, rows[2:], today)
    ahead = dict(ahead_rows)
    etas = {}
    for product_id, shortfall, _ in lines:
        [etas[product_id]] = eta_project([(ahead.get(product_id) or 0) + shortfall], supplies[product_id], today)
    reasons = reasons_decide(
        reason_rows,
        overdue_units={product_id: eta[5] for product_id, eta in etas.items()},
        unwritten_units={product_id: ordered for product_id, _, ordered in lines},
    )
    return [NewcomerEta(*etas[product_id][:6], reasons[product_id]) for product_id, _, _ in lines]


def eta_recompute_all() -> int:
    """Every product with waiting backorders (demo data, nightly sweep). A product whose recompute is running
    already is skipped: that one reads the data after this sweep started."""
    product_ids = Backorder.objects.filter(status__in=Backorder.WAITING).values_list("product_id", flat=True).distinct()
    written = 0
    for pk in sorted(set(product_ids)):
        with eta_recompute_lock(pk) as acquired:
            if acquired:
                written += eta_recompute_product(product_id=pk)
    return written


def product_promise(*, product) -> dict:
    """What a storefront shows next to "backorder": the next restock date and the ETA a new order gets now."""
    from .selectors import waiting_demand_by_product

    today = timezone.localdate()
    supply = supply_read(product.pk, today)
    waiting = waiting_demand_by_product(product_ids=[product.pk]).get(product.pk, 0)
    [promise] = [Eta(*row) for row in eta_project([waiting + 1], supply, today)]
    return {
        "next_restock_date": supply.lines[0][1] if supply.lines else None,
        "backorder_eta": promise.eta,
        "backorder_eta_basis": promise.basis,
        "backorder_eta_expected": promise.expected,
        "backorder_eta_confidence": promise.confidence,
    }
