"""The daily demand rollup planning reads (``DailyDemand`` up to ``DemandRollup.line_id_upto``; docs/planning.md and
docs/performance.md, "Reads at volume"): the order lines written since the last refresh are summed into their
product's day, and the watermark moves on. Run hourly (``suppliers.tasks.demand_rollup_hourly``); planning reads the
rollup plus the lines after the watermark, so its figures never depend on when this last ran.

Exactness: a line counted here must never change unseen, and no line below the new watermark may still be on its
way. Before anything, the refresh waits until every transaction that was writing order lines when it read the
newest line id has ended (one of them might still commit a line with a smaller id); then it sums under the rollup
row's lock ``FOR UPDATE``: a trigger changing a rolled-up line takes that row ``FOR SHARE``, so it either ran
before (and the sums see its change) or waits and then sees the new watermark (and applies its change to them).
"""

from __future__ import annotations

import time

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from ..models import DailyDemand, DemandRollup, MonthlyDemand

_SUM_LINES = """
INSERT INTO {demand} (product_id, day, units)
SELECT l.product_id, (o.placed_at AT TIME ZONE %s)::date, SUM(l.quantity)
  FROM {line} l JOIN {order} o ON o.id = l.order_id
 WHERE l.id > %s AND l.id <= %s
 GROUP BY 1, 2
    ON CONFLICT (day, product_id) DO UPDATE SET units = {demand}.units + EXCLUDED.units
"""

# The monthly level's rows appended since the last refresh (migration 0007's triggers), folded into one per product
# and month; months that add up to nothing go.
_FOLD_MONTHS = """
WITH gone AS (
    DELETE FROM {monthly} m
     USING (SELECT product_id, month FROM {monthly} GROUP BY 1, 2 HAVING COUNT(*) > 1 OR SUM(units) = 0) many
     WHERE m.product_id = many.product_id AND m.month = many.month
 RETURNING m.product_id, m.month, m.units, m.squares
)
INSERT INTO {monthly} (product_id, month, units, squares)
SELECT product_id, month, SUM(units), SUM(squares) FROM gone GROUP BY 1, 2 HAVING SUM(units) <> 0 OR SUM(squares) <> 0
"""

_WAIT_POLL_SECONDS = 0.05


def demand_rollup_refresh(*, max_wait_seconds: float = 60.0) -> int:
    """Sum the order lines written since the last refresh into ``DailyDemand``; returns the new watermark. With
    another time zone than the rollup's, the rollup is rebuilt from the first line. PostgreSQL only (elsewhere
    planning reads every line, and this does nothing)."""
    if connection.vendor != "postgresql":
        return 0
    from orders.models import Order, OrderLine

    zone = settings.TIME_ZONE
    DemandRollup.objects.get_or_create(pk=1, defaults={"time_zone": zone})
    # The newest line, then the end of every transaction that might still commit a line below it. Outside the
    # lock below: such a transaction may be changing a rolled-up line and wait for that lock in its trigger.
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COALESCE(MAX(id), 0), clock_timestamp() FROM {OrderLine._meta.db_table}")
        upto, read_at = cursor.fetchone()
        _wait_for_line_writers(cursor, OrderLine._meta.db_table, read_at, max_wait_seconds)
    with transaction.atomic():
        rollup = DemandRollup.objects.select_for_update().get(pk=1)
        if rollup.time_zone != zone:
            DailyDemand.objects.all().delete()
            rollup.line_id_upto, rollup.time_zone = 0, zone
        if upto > rollup.line_id_upto:
            with connection.cursor() as cursor:
                cursor.execute(
                    _SUM_LINES.format(
                        demand=DailyDemand._meta.db_table, line=OrderLine._meta.db_table, order=Order._meta.db_table
                    ),
                    [zone, rollup.line_id_upto, upto],
                )
            rollup.line_id_upto = upto
        with connection.cursor() as cursor:
            cursor.execute(_FOLD_MONTHS.format(monthly=MonthlyDemand._meta.db_table))
        rollup.refreshed_at = timezone.now()
        rollup.save()
    return rollup.line_id_upto


def _wait_for_line_writers(cursor, table: str, read_at, max_wait_seconds: float) -> None:
    """Wait until no transaction that began before ``read_at`` still holds the order lines' write lock: a line with
    an id below the newest one read was numbered before that read, by a transaction that began before it and holds
    the table's ROW EXCLUSIVE lock (taken when its INSERT began) until it ends; any transaction beginning later
    numbers its lines above. Only this database's writers of that table count (not a long report elsewhere); a
    writer whose start is hidden (another role's session) is waited for. Raises TimeoutError (nothing written)."""
    deadline = time.monotonic() + max_wait_seconds
    while True:
        cursor.execute(
            "SELECT count(*) FROM pg_locks k JOIN pg_stat_activity a ON a.pid = k.pid"
            " WHERE k.locktype = 'relation' AND k.relation = %s::regclass AND k.mode = 'RowExclusiveLock'"
            " AND k.pid <> pg_backend_pid() AND COALESCE(a.xact_start, '-infinity') < %s",
            [table, read_at],
        )
        if cursor.fetchone()[0] == 0:
            return
        if time.monotonic() > deadline:
            raise TimeoutError("order lines written by transactions older than the refresh are not committed yet")
        time.sleep(_WAIT_POLL_SECONDS)
