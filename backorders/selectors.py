from __future__ import annotations

from collections.abc import Iterable

from django.db.models import F, Sum

from core.sql import from_row_json, row_json_sql

from .models import AllocationPolicy, Backorder
from .queue import QUEUE_ORDER, ahead_of_outer


def waiting_demand_by_product(*, product_ids: Iterable[int]) -> dict[int, int]:
    """Units still waiting for stock, per product (served by the partial queue index)."""
    rows = (
        Backorder.objects.filter(product_id__in=list(product_ids), status__in=Backorder.WAITING)
        .values("product_id")
        .annotate(units=Sum(F("quantity") - F("quantity_allocated") - F("quantity_cancelled")))
    )
    return {row["product_id"]: row["units"] or 0 for row in rows}


def waiting_demand_subquery(product_ref: str = "product_id"):
    """Units still waiting for stock for the product of the outer row (a scalar subquery, 0 when none)."""
    from django.db.models import IntegerField, OuterRef, Subquery, Value
    from django.db.models.functions import Coalesce

    units = (
        Backorder.objects.filter(product_id=OuterRef(product_ref), status__in=Backorder.WAITING)
        .order_by()
        .values("product_id")
        .annotate(units=Sum(F("quantity") - F("quantity_allocated") - F("quantity_cancelled")))
        .values("units")
    )
    return Coalesce(Subquery(units[:1], output_field=IntegerField()), Value(0))


def waiting_demand_sql(product_column: str) -> str:
    """``waiting_demand_subquery`` as plain SQL for a statement built once (order placement's locking statement):
    the units still waiting for the product in ``product_column``. tests/backorders/test_selectors.py proves the two
    agree on every status."""
    statuses = ", ".join(f"'{status}'" for status in Backorder.WAITING)
    return (
        "SELECT COALESCE(SUM(b.quantity - b.quantity_allocated - b.quantity_cancelled), 0)"
        f" FROM {Backorder._meta.db_table} b WHERE b.product_id = {product_column} AND b.status IN ({statuses})"
    )


def policy_snapshot_sql() -> tuple[str, list]:
    """The active allocation policy as a scalar subquery (JSON; SQL, params) for a statement that reads it in passing
    (order placement's locking statement); ``policy_from_snapshot`` turns it back (None: none active yet)."""
    return row_json_sql(AllocationPolicy, where="is_active", params=[])


def policy_from_snapshot(row: dict | None):
    return from_row_json(AllocationPolicy, row)


def backorder_queue(*, product_id: int):
    """Waiting backorders of one product, in allocation order."""
    return Backorder.objects.filter(product_id=product_id, status__in=Backorder.WAITING).order_by(*QUEUE_ORDER)


def _queue_position():
    """1-based place in the product's allocation queue, or None when the backorder is not waiting.

    Counts the waiting backorders of the same product that come first in queue order (priority_rank desc,
    priority_score desc, placed_at asc, id asc): one correlated count per row, served by the queue index.
    """
    from django.db.models import Case, Count, IntegerField, OuterRef, Subquery, When
    from django.db.models.functions import Coalesce

    ahead = (
        Backorder.objects.filter(product_id=OuterRef("product_id"), status__in=Backorder.WAITING)
        .filter(ahead_of_outer())
        .order_by()
        .values("product_id")
        .annotate(n=Count("id"))
        .values("n")
    )
    return Case(
        When(
            status__in=Backorder.WAITING,
            then=Coalesce(Subquery(ahead, output_field=IntegerField()), 0) + 1,
        ),
        default=None,
        output_field=IntegerField(),
    )


def backorder_list(*, channel=None):
    """Backorders with their order, customer, channel and product, in queue order.

    No queue position here: computing it for every row made counting a filtered list cost seconds at volume (each
    row's position is a count over its product's queue). A caller shows positions for the rows it shows, with
    ``queue_positions_set`` (one query per page). ``channel`` limits them to that channel's orders.
    """
    queryset = Backorder.objects.select_related("order__customer", "order__channel", "product").order_by(*QUEUE_ORDER)
    if channel is not None:
        # The channel copied on the backorder (always its order's): an index count, no join with every order.
        queryset = queryset.filter(channel=channel)
    return queryset


def backorder_list_with_positions(*, channel=None):
    """``backorder_list`` with ``queue_position`` annotated on every row (for sorting by it: the admin).
    Costs a count per row: for pages of an API or a staff page, prefer ``queue_positions_set``."""
    return backorder_list(channel=channel).annotate(queue_position=_queue_position())


# Plain IN lists (PostgreSQL plans them as `= ANY(array)`; SQLite, the embedded default, has no arrays).
_PAGE_POSITIONS_SQL = """
SELECT id, position
  FROM (SELECT id, ROW_NUMBER() OVER (PARTITION BY product_id ORDER BY {queue_order}) AS position
          FROM {backorder}
         WHERE product_id IN ({products}) AND status IN ({statuses})) queue
 WHERE id IN ({ids})
"""


def queue_positions(waiting: list[tuple[int, int]]) -> dict[int, int]:
    """1-based place in its product's allocation queue of each waiting backorder given as (id, product id), in one
    query: the queues of their products are ranked once (read in queue order from the queue index), not once per
    backorder. Id → position (an id no longer waiting is left out)."""
    from django.db import connection

    from .queue import queue_order_sql

    if not waiting:
        return {}
    products = sorted({product for _, product in waiting})
    statuses = [str(status) for status in Backorder.WAITING]
    ids = [pk for pk, _ in waiting]
    sql = _PAGE_POSITIONS_SQL.format(
        queue_order=queue_order_sql(),
        backorder=Backorder._meta.db_table,
        products=", ".join(["%s"] * len(products)),
        statuses=", ".join(["%s"] * len(statuses)),
        ids=", ".join(["%s"] * len(ids)),
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*products, *statuses, *ids])
        return dict(cursor.fetchall())


def queue_positions_set(backorders) -> list[Backorder]:
    """Set ``queue_position`` (None when not waiting) on each of ``backorders`` (a page) with ``queue_positions``.
    Returns the list."""
    backorders = list(backorders)
    positions = queue_positions([(b.pk, b.product_id) for b in backorders if b.status in Backorder.WAITING])
    for backorder in backorders:
        backorder.queue_position = positions.get(backorder.pk)
    return backorders


def queue_positions_set_rows(rows) -> list[dict]:
    """``queue_positions_set`` for rows read with ``.values()`` (with ``id``, ``product_id`` and ``status``): sets
    each row's ``"queue_position"``."""
    rows = list(rows)
    positions = queue_positions([(r["id"], r["product_id"]) for r in rows if r["status"] in Backorder.WAITING])
    for row in rows:
        row["queue_position"] = positions.get(row["id"])
    return rows


def backorder_get(*, backorder_id, channel=None) -> Backorder | None:
    """One backorder with its events (oldest first) and its queue position; None if absent or another channel's."""
    from django.db.models import Prefetch

    from .models import BackorderEvent

    try:
        pk = int(backorder_id)
    except (TypeError, ValueError):
        return None
    if not 0 < pk < 2**63:
        return None
    backorder = (
        backorder_list(channel=channel)
        .annotate(queue_position=_queue_position())
        .prefetch_related(Prefetch("events", queryset=BackorderEvent.objects.order_by("created_at", "id")))
        .filter(pk=pk)
        .first()
    )
    return backorder


def products_needing_allocation() -> list[int]:
    """Products with free stock (on hand above allocated) and waiting backorders, by id."""
    from django.db.models import Exists, OuterRef

    from inventory.models import StockItem

    waiting = Backorder.objects.filter(product_id=OuterRef("product_id"), status__in=Backorder.WAITING)
    return sorted(
        set(
            StockItem.objects.sellable()
            .filter(on_hand__gt=F("allocated"))
            .filter(Exists(waiting))
            .values_list("product_id", flat=True)
        )
    )


def work_requests_backlog(*, older_than_seconds: float = 0) -> dict[str, dict]:
    """Pending allocation and ETA requests per kind: how many, how many older than ``older_than_seconds`` (their
    message is late or lost), and the oldest's first request time. What to monitor (docs/operations.md)."""
    from datetime import timedelta

    from django.db.models import Count, Min, Q
    from django.utils import timezone

    from .models import WorkRequest

    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    rows = WorkRequest.objects.values("kind").annotate(
        pending=Count("id"), overdue=Count("id", filter=Q(requested_at__lte=cutoff)), oldest=Min("created_at")
    )
    return {row["kind"]: {key: row[key] for key in ("pending", "overdue", "oldest")} for row in rows}


def backorders_past_auto_cancel(*, now) -> list[Backorder]:
    """Waiting backorders placed at least ``auto_cancel_after_days`` ago under the terms that bind their customer
    (their own row, else their channel's default: a customer's row replaces the default as a whole)."""
    from datetime import timedelta

    from orders.models import CustomerTerms

    found: dict[int, Backorder] = {}
    for terms in CustomerTerms.objects.filter(auto_cancel_after_days__isnull=False).order_by("pk"):
        qs = Backorder.objects.filter(
            status__in=Backorder.WAITING, placed_at__lte=now - timedelta(days=terms.auto_cancel_after_days)
        )
        if terms.customer_id is not None:
            qs = qs.filter(order__customer_id=terms.customer_id)
        else:
            qs = qs.filter(order__channel_id=terms.channel_id, order__customer__terms__isnull=True)
        for backorder in qs.select_related("order", "product").order_by("pk"):
            found[backorder.pk] = backorder
    return [found[pk] for pk in sorted(found)]


def backorders_sla_due(*, now) -> list[int]:
    """Ids of waiting backorders whose SLA ship-by date passed and that are not yet marked breached."""
    return list(
        Backorder.objects.filter(status__in=Backorder.WAITING, sla_breached=False, sla_due_at__lte=now)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
