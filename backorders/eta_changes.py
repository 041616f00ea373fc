"""Which waiting backorders of a product get new dates, and which: the read half of an ETA recompute
(``backorders.eta.eta_recompute_product`` writes them).

A backorder's dates are ``projection.eta_project``'s for its cumulative outstanding demand in queue order, except a
standing lead-time estimate still in the future, which is kept (it does not slip a day each day). Only the rows whose
dates, basis or purchase-order line would change are returned, in queue order, as
``(pk, eta, basis, line, first, old eta, old basis, old line, expected, confidence)``.

Two readers, the same rows (``tests/backorders/test_eta_changes.py`` proves it over many queues and supplies):
- in Python (any database): every waiting row is read and projected here;
- in PostgreSQL: the projection is sent as steps over the cumulative demand (``projection.eta_steps``, a few dozen
  values computed by ``eta_project`` itself) and the database sums the queue, applies the steps and the standing-
  estimate rule, and returns only what moves. A steady recompute of a 100,000-row queue sends nothing back.
"""

from __future__ import annotations

from datetime import date

from django.db import connection

from core.sql_arrays import array_literal

from .models import Backorder
from .projection import LEAD_TIME_BASES, Supply, eta_project, eta_steps, supply_read
from .queue import QUEUE_ORDER, queue_order_sql

_COLUMNS = (
    "id",
    "quantity",
    "quantity_allocated",
    "quantity_cancelled",
    "eta",
    "eta_basis",
    "eta_purchase_order_line_id",
    "eta_first",
    "eta_expected",
    "eta_confidence",
)


def eta_changes(*, product_id: int, today: date) -> list[tuple]:
    """The changes of the product's waiting backorders (see the module); [] with nothing waiting, without reading
    the supply. Call it under the product's stock lock, in a transaction (a consistent picture of queue and supply)."""
    if connection.vendor == "postgresql":
        if not _waiting(product_id).exists():
            return []
        return eta_changes_in_database(product_id=product_id, supply=supply_read(product_id, today), today=today)
    rows = eta_queue_rows(product_id)
    if not rows:
        return []
    return eta_changes_in_python(rows, supply=supply_read(product_id, today), today=today)


def _waiting(product_id: int):
    return Backorder.objects.filter(product_id=product_id, status__in=Backorder.WAITING)


def eta_queue_rows(product_id: int) -> list[tuple]:
    """The product's waiting backorders in queue order, as the Python reader takes them."""
    return list(_waiting(product_id).order_by(*QUEUE_ORDER).values_list(*_COLUMNS))


def eta_changes_in_python(rows: list[tuple], *, supply: Supply, today: date) -> list[tuple]:
    cumulative = 0
    demands = []
    for row in rows:
        cumulative += row[1] - row[2] - row[3]
        demands.append(cumulative)
    changed = []
    for row, (eta, basis, line_id, expected, confidence, _) in zip(
        rows, eta_project(demands, supply, today), strict=True
    ):
        pk, _, _, _, old_eta, old_basis, old_line, eta_first, old_expected, old_confidence = row
        if basis in LEAD_TIME_BASES and old_basis == basis and old_eta is not None and old_eta >= today:
            # a standing estimate does not slip a day each day
            eta, expected, confidence = old_eta, old_expected, old_confidence
        if (eta, basis, line_id, expected, confidence) == (old_eta, old_basis, old_line, old_expected, old_confidence):
            continue
        changed.append((pk, eta, basis, line_id, eta_first or eta, old_eta, old_basis, old_line, expected, confidence))
    return changed


# The queue's cumulative outstanding demand (a window over the queue order), its step of the projection (width_bucket:
# the number of bounds below it, as bisect_left), the standing-estimate rule, and only the rows that move.
_CHANGES_SQL = """
WITH q AS (
    SELECT b.id, b.eta, b.eta_basis, b.eta_purchase_order_line_id AS line, b.eta_first, b.eta_expected,
           b.eta_confidence, sum(b.quantity - b.quantity_allocated - b.quantity_cancelled) OVER w AS needed,
           row_number() OVER w AS position
      FROM {backorder} b
     WHERE b.product_id = %(product)s AND b.status IN %(waiting)s
    WINDOW w AS (ORDER BY {queue_order} ROWS UNBOUNDED PRECEDING)
),
s AS (
    SELECT *
      FROM unnest(%(etas)s::date[], %(bases)s::text[], %(lines)s::bigint[], %(expected)s::date[],
                  %(confidence)s::float8[]) WITH ORDINALITY AS s(eta, basis, line, expected, confidence, step)
),
p AS (
    SELECT q.*, s.basis AS new_basis, s.line AS new_line,
           s.basis IN %(lead_time_bases)s AND q.eta_basis = s.basis AND q.eta >= %(today)s AS standing,
           s.eta AS step_eta, s.expected AS step_expected, s.confidence AS step_confidence
      FROM q JOIN s ON s.step = width_bucket(q.needed - 1, %(bounds)s::bigint[]) + 1
),
n AS (
    SELECT p.*,
           CASE WHEN standing THEN eta ELSE step_eta END AS new_eta,
           CASE WHEN standing THEN eta_expected ELSE step_expected END AS new_expected,
           CASE WHEN standing THEN eta_confidence ELSE step_confidence END AS new_confidence
      FROM p
)
SELECT id, new_eta, new_basis, new_line, COALESCE(eta_first, new_eta), eta, eta_basis, line, new_expected,
       new_confidence
  FROM n
 WHERE (new_eta, new_basis, new_line, new_expected, new_confidence)
       IS DISTINCT FROM (eta, eta_basis, line, eta_expected, eta_confidence)
 ORDER BY position
"""


def eta_changes_in_database(*, product_id: int, supply: Supply, today: date) -> list[tuple]:
    bounds, values = eta_steps(supply, today)
    etas, bases, lines, expected, confidence = zip(*values, strict=True)
    params = {
        "product": product_id,
        "waiting": Backorder.WAITING_VALUES,
        "lead_time_bases": tuple(basis.value for basis in LEAD_TIME_BASES),
        "today": today,
        "bounds": array_literal(bounds),
        "etas": array_literal(etas),
        "bases": array_literal(bases),
        "lines": array_literal(lines),
        "expected": array_literal(expected),
        "confidence": array_literal(confidence),
    }
    sql = _CHANGES_SQL.format(backorder=Backorder._meta.db_table, queue_order=queue_order_sql("b"))
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()
