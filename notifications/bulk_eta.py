"""The set-based twin of the outbox hook for ``eta_changed`` events (PostgreSQL): the same rows (event, channel,
dedupe key, recipient, context) and the same long-delay incentives as ``notifications_from_backorder_events``,
written with one INSERT … SELECT instead of loading every backorder, order and customer into Python. An ETA
recompute can move every date of a 100,000-backorder queue at once, so this matters."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone

from backorders.models import Backorder

from .models import ETA_DIGEST_ABOVE, Incentive
from .outbox_sql import BACKORDER_FACTS, BACKORDER_JOINS, emailed_sql, tables, targets_sql

# One moved backorder as the hook's ``outbox_item`` (of a ``news`` row); in a digest with its order.
# Dates as JSON writes them (ISO 8601, YYYY-MM-DD, whatever the DateStyle) rather than through to_char.
_ITEM_FIELDS = """
               'backorder_id', backorder_id, 'sku', sku, 'name', name, 'quantity', item_quantity,
               'waiting', waiting, 'status', status, 'eta', new_eta, 'eta_basis', item_basis, 'old_eta', old_eta,
               'new_eta', new_eta, 'eta_direction', direction"""
# Built as json and cast once per list: json_build_object only writes text, jsonb_build_object builds (and sorts) a
# tree per item — a third slower over 100,000 items (to_char for the dates another sixth); the stored jsonb is the
# same.
_ITEM = "json_build_object(" + _ITEM_FIELDS + ")"
_DIGEST_ITEM = "json_build_object(" + _ITEM_FIELDS + ", 'order_id', order_id, 'order_number', order_number)"

# Mirrors notifications.services: eta_change_is_news (direction, news), notifications_from_backorder_events
# (one row per order and channel, keyed by the order's first event), outbox_item, _channels_for, outbox_rows,
# eta_digest_rows (one e-mail per customer with more than ETA_DIGEST_ABOVE backorders moved), and
# _incentive_due / _incentive_amount / _incentive_rows (once per backorder, announced per channel).
_ETA_CHANGED_SQL = (
    """
WITH ev AS (
    SELECT e.id AS event_id, COALESCE(NULLIF(e.quantity, 0), b.quantity) AS item_quantity, o.number AS order_number,
           NULLIF(e.data->>'old', '')::date AS old_eta, NULLIF(e.data->>'new', '')::date AS new_eta,
           COALESCE(NULLIF(e.data->>'basis', ''), b.eta_basis) AS item_basis, ei.id IS NOT NULL AS has_incentive,"""
    + BACKORDER_FACTS
    + """
      FROM {event} e
      JOIN {backorder} b ON b.id = e.backorder_id"""
    + BACKORDER_JOINS
    + """
      LEFT JOIN {incentive} ei ON ei.backorder_id = b.id
     WHERE {events} AND e.kind = 'eta_changed'
),
directed AS (
    SELECT ev.*,
           CASE WHEN old_eta IS NOT DISTINCT FROM new_eta THEN 'same'
                WHEN new_eta <= %(today)s THEN 'today'
                WHEN old_eta IS NULL THEN 'confirmed'
                WHEN new_eta IS NULL THEN 'unknown'
                WHEN new_eta < old_eta THEN 'earlier'
                ELSE 'later' END AS direction
      FROM ev
),
news AS (
    -- Whether the customer is e-mailed about more than ETA_DIGEST_ABOVE distinct backorders (then ONE digest), by
    -- window functions over the events: joins between these CTEs would be planned as nested loops (the planner
    -- estimates them at one row each).
    SELECT n.*,
           count(*) FILTER (WHERE emailed AND first_of_backorder) OVER (PARTITION BY customer_id)
               > %(digest_above)s AS digested
      FROM (SELECT directed.*,"""
    + emailed_sql("directed", "'eta_changed'")
    + """ AS emailed,
                   row_number() OVER (PARTITION BY backorder_id ORDER BY event_id) = 1 AS first_of_backorder,
                   row_number() OVER (PARTITION BY order_id ORDER BY event_id) = 1 AS first_of_order
              FROM directed
             WHERE direction IN ('confirmed', 'unknown', 'earlier')
                OR (direction = 'later' AND new_eta - old_eta > %(threshold)s)) n
),
per_order AS (
    SELECT order_id, customer_id, email, channel_id, channel_active, prefers_shop,
           min(event_id) AS first_event_id, count(*) AS members, min(backorder_id) AS backorder_id,
           json_agg("""
    + _ITEM
    + """)::jsonb AS items,
           jsonb_agg(backorder_id) AS backorder_ids, bool_or(digested) AS digested
      FROM (SELECT * FROM news
             WHERE NOT digested OR channel_active  -- a digested customer's orders: only for their shop's webhooks
             ORDER BY order_id, customer_id, email, channel_id, channel_active, prefers_shop, event_id) sorted
     GROUP BY order_id, customer_id, email, channel_id, channel_active, prefers_shop
),
-- The digest of such a customer: every e-mailed item with its order, in event order; the orders in the order of their
-- first event (the first is the row's order). Webhooks and incentives are unchanged.
-- Here and in per_order the aggregates take their rows in event order from a subquery sorted by the groups' keys and
-- then the event: one sort for all groups instead of one per group and aggregate.
-- PostgreSQL aggregates rows in the order its input gives them (this statement has no parallel plan: it writes).
digests AS (
    SELECT customer_id, min(email) AS email, min(event_id) AS first_event_id, max(event_id) AS last_event_id,
           (array_agg(order_id))[1] AS order_id,
           json_agg("""
    + _DIGEST_ITEM
    + """)::jsonb AS items,
           jsonb_agg(backorder_id) AS backorder_ids,
           jsonb_agg(order_id) FILTER (WHERE first_of_order) AS order_ids
      FROM (SELECT * FROM news WHERE emailed AND digested ORDER BY customer_id, event_id) sorted
     GROUP BY customer_id
),
due AS (
    SELECT backorder_id, order_line_id, quantity, currency,
           CASE WHEN placed_at <= %(waited_since)s THEN %(reason_waited)s
                WHEN eta > ((placed_at AT TIME ZONE 'UTC') + %(long_delay)s * interval '1 day')::date
                THEN %(reason_expected)s END AS reason
      FROM news
     WHERE %(long_delay)s > 0 AND status IN {waiting} AND NOT has_incentive
),
-- One incentive per backorder: those granted before are known from the events' join (read before anything is
-- inserted: a NOT EXISTS probe here would scan the pages this INSERT is adding — invisible to it, still read — which
-- was quadratic when the table's statistics said empty); ON CONFLICT skips one granted meanwhile, and only the new
-- ones are RETURNed (announced).
granted AS (
    INSERT INTO {incentive} AS i (backorder_id, kind, code, amount, currency, reason, created_at)
    SELECT due.backorder_id, %(incentive_kind)s,
           %(code_prefix)s || '-' || upper(left(replace(gen_random_uuid()::text, '-', ''), 10)),
           round(LEAST(COALESCE(l.unit_price, 0) * due.quantity * %(percent)s::numeric / 100,
                       %(max_amount)s::numeric), 2),
           due.currency, due.reason, now()
      FROM due JOIN {order_line} l ON l.id = due.order_line_id
     WHERE due.reason IS NOT NULL
    ON CONFLICT DO NOTHING
    RETURNING i.backorder_id, i.kind, i.code, i.amount, i.currency, i.reason
),
announced AS (
    SELECT g.kind AS incentive_kind, g.code, g.amount, g.currency AS incentive_currency, g.reason,"""
    + BACKORDER_FACTS
    + """
      FROM granted g
      JOIN {backorder} b ON b.id = g.backorder_id"""
    + BACKORDER_JOINS
    + """
),
updates AS (
    SELECT 'eta_changed' AS event, order_id, customer_id, CASE WHEN members = 1 THEN backorder_id END AS backorder_id,
           'eta_changed:o' || order_id || ':e' || first_event_id AS key,
           items, '{{}}'::jsonb AS data, backorder_ids, email, channel_id, channel_active, prefers_shop, digested
      FROM per_order
    UNION ALL
    SELECT 'incentive', order_id, customer_id, backorder_id, 'incentive:b' || backorder_id,
           jsonb_build_array(jsonb_build_object(
               'backorder_id', backorder_id, 'sku', sku, 'name', name, 'quantity', quantity, 'waiting', waiting,
               'status', status, 'eta', to_char(eta, 'YYYY-MM-DD'), 'eta_basis', eta_basis)),
           jsonb_build_object(
               'incentive', jsonb_build_object(
                   'kind', incentive_kind, 'kind_display', %(incentive_kind_display)s, 'code', code,
                   'amount', amount::text, 'currency', incentive_currency),
               'reason', reason),
           jsonb_build_array(backorder_id), email, channel_id, channel_active, prefers_shop, false
      FROM announced
),"""
    + targets_sql("updates")
    + """
INSERT INTO {notification} AS n
       (customer_id, order_id, backorder_id, event, channel, status, dedupe_key, recipient, webhook_endpoint_id,
        subject, body_text, body_html, payload, context, attempts, attempts_before_retry, next_attempt_at, last_error,
        created_at)
SELECT customer_id, order_id, backorder_id, event, channel, 'pending',
       key || ':' || channel || COALESCE(':' || endpoint_id, ''), recipient, endpoint_id,
       '', '', '', '{{}}'::jsonb,
       jsonb_build_object(
           'items', items, 'data', data, 'backorder_ids', backorder_ids,
           'occurred_at', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"'),
           'shipping_now', '[]'::jsonb),
       0, 0, now(), '', now()
  FROM targets
 WHERE NOT (digested AND channel = 'email' AND event = 'eta_changed')
UNION ALL
SELECT d.customer_id, d.order_id, NULL, 'eta_digest', 'email', 'pending',
       'eta_digest:c' || d.customer_id || ':e' || d.first_event_id || '-' || d.last_event_id || ':email', d.email,
       NULL, '', '', '', '{{}}'::jsonb,
       jsonb_build_object(
           'items', d.items, 'data', '{{}}'::jsonb, 'backorder_ids', d.backorder_ids, 'order_ids', d.order_ids,
           'occurred_at', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"'),
           'shipping_now', '[]'::jsonb),
       0, 0, now(), '', now()
  FROM digests d
ON CONFLICT (dedupe_key) DO NOTHING
RETURNING n.id
"""
)


def notifications_eta_changed_for_events(*, event_ids: list[int]) -> list[int]:
    """Write the outbox rows (and long-delay incentives) that these ``eta_changed`` events cause, in the
    caller's transaction, with one statement (PostgreSQL). Returns the new rows' ids, for the caller to publish
    with ``notifications_enqueue_bulk_on_commit`` (once for a whole batch of transactions, if it writes one).

    The same rows as ``notifications_from_backorder_events`` writes for the same events, read from the
    backorders as they are now (call it after the ETAs are written). Events are grouped per order as there;
    a product has one line per order, so an ETA recompute has one event per order. Idempotent: the
    dedupe keys and the one incentive per backorder make a second call write nothing.
    """
    if not event_ids:
        return []
    return _eta_changed_rows("e.id = ANY(%(events)s::bigint[])", {"events": list(event_ids)}, len(event_ids))


def notifications_eta_changed_for_range(*, product_id: int, first_event_id: int, last_event_id: int) -> list[int]:
    """The same for the ``eta_changed`` events of one product with ids in [first, last]: an ETA rewrite's chunks
    (each writes its events under the product's stock lock, and the rewrites of a product take turns, so the range
    holds that rewrite's events only; were another's inside, its rows already exist and the dedupe keys skip them).
    A range, not a list of 100,000 ids: the planner estimates it from the index, not element by element."""
    return _eta_changed_rows(
        "e.id BETWEEN %(first)s AND %(last)s AND b.product_id = %(product)s",
        {"first": first_event_id, "last": last_event_id, "product": product_id},
        last_event_id - first_event_id + 1,
    )


# When a batch of events makes hash joins cheaper than a nested loop per event (bench/eta.py): a nested loop reads
# each event's backorder, order, customer, channel and preference by key (~7.5 µs an event); hash joins read the
# backorder and order tables whole (~1 µs a row), then ~1 µs an event. The planner cannot weigh this itself: the
# events were just written, so its statistics (and the direction filter's selectivity) put them at a handful of rows.
_HASH_JOINS_PER_TABLE_ROW = 1 / 6

_SETTINGS = ("jit", "work_mem", "enable_nestloop")
_SETTINGS_SQL = """
SELECT current_setting('jit'), current_setting('work_mem'), current_setting('enable_nestloop'),
       set_config('jit', 'off', true), set_config('work_mem', '64MB', true),
       set_config('enable_nestloop',
                  CASE WHEN min(reltuples) >= 0 AND %(events)s > %(ratio)s * sum(reltuples) THEN 'off' ELSE 'on' END,
                  true)
  FROM pg_class WHERE oid IN (%(backorder)s::regclass, %(order)s::regclass)
"""


@contextmanager
def _statement_settings(cursor, *, events: int) -> Iterator[None]:
    """For the notification statement only: no JIT (compiling a one-off statement over up to 100,000 events costs
    more than it saves); sorts in memory (the news windows and the aggregates hold up to 100,000 wide rows, which
    spilled to disk at the default 4 MB); hash joins for a batch that is a large share of the backorders and orders
    (an ETA rewrite of a long queue: the news join 0.75 → 0.28 s for 100,000 events), nested loops otherwise (and
    while a table has never been analysed: its size is unknown). Set for the transaction (SET LOCAL) and put back
    after the statement, so the rest of a caller's transaction plans as before (an error rolls them back anyway)."""
    names = tables()
    cursor.execute(
        _SETTINGS_SQL,
        {
            "events": events,
            "ratio": _HASH_JOINS_PER_TABLE_ROW,
            "backorder": names["backorder"],
            "order": names["order"],
        },
    )
    before = cursor.fetchone()[: len(_SETTINGS)]
    yield
    cursor.execute(
        "SELECT " + ", ".join("set_config(%s, %s, true)" for _ in _SETTINGS),
        [value for pair in zip(_SETTINGS, before, strict=True) for value in pair],
    )


def _eta_changed_rows(events: str, params: dict, count: int) -> list[int]:
    conf = settings.OMS
    now = timezone.now()
    long_delay = conf["NOTIFY_LONG_DELAY_DAYS"]
    kind = conf["NOTIFY_INCENTIVE_KIND"]
    if kind not in Incentive.Kind.values:
        kind = Incentive.Kind.DISCOUNT_CODE
    params = {
        **params,
        "today": timezone.localdate(),
        "digest_above": ETA_DIGEST_ABOVE,
        "threshold": conf["NOTIFY_ETA_CHANGE_THRESHOLD_DAYS"],
        "long_delay": long_delay,
        "waited_since": now - timedelta(days=long_delay),
        "reason_waited": f"waited more than {long_delay} days",
        "reason_expected": f"expected more than {long_delay} days after the order",
        "incentive_kind": str(kind),
        "incentive_kind_display": str(Incentive.Kind(kind).label),
        "code_prefix": "THANKS" if kind == Incentive.Kind.DISCOUNT_CODE else "CREDIT",
        "percent": conf["NOTIFY_INCENTIVE_PERCENT"],
        "max_amount": conf["NOTIFY_INCENTIVE_MAX_AMOUNT"],
    }
    with connection.cursor() as cursor, _statement_settings(cursor, events=count):
        cursor.execute(_ETA_CHANGED_SQL.format(**tables(), events=events, waiting=Backorder.WAITING_SQL), params)
        return [row[0] for row in cursor.fetchall()]
