"""Each KPI on a small hand-built data set; expected values worked out by hand in the comments."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from dashboard import metrics
from notifications.models import Notification
from tests.inventory.factories import ProductFactory

from .factories import make_backorder, make_order

NOW = datetime(2026, 6, 30, 12, 0, tzinfo=UTC)


def ago(days: int) -> datetime:
    return NOW - timedelta(days=days)


@pytest.fixture
def dataset(db):
    """Period = last 7 days [N−7d, N); previous = [N−14d, N−7d).

    current period:  O1 (N−1d) L1 P1×10 (B1: 4 backordered, 1 since allocated → 3 waiting), L2 P2×4 (in stock)
                     O2 (N−2d) L3 P1×6  (B2: 6, allocated N−1d: 1 day, first ETA = day of N−1d → on time)
                     O5 (N−6d) L5 P3×1  (B5: 1, allocated N−1d: 5 days, no ETA)
    previous period: O3 (N−10d) L4 P2×5 (B3: 5, allocated N−8d: 2 days, first ETA N−9d → late;
                                         fulfilled N−3d: 7 days)
    older:           O4 (N−40d) L6 P2×2 (B4: 2 waiting, 40 days old)
    """
    p1 = ProductFactory(sku="P1", unit_price=Decimal("5.00"))
    p2 = ProductFactory(sku="P2", unit_price=Decimal("20.00"))
    p3 = ProductFactory(sku="P3", unit_price=Decimal("100.00"))
    o1, (l1, _l2) = make_order(placed_at=ago(1), lines=[(p1, 10, 3), (p2, 4, 0)])
    o2, (l3,) = make_order(placed_at=ago(2), lines=[(p1, 6, 0)])
    o5, (l5,) = make_order(placed_at=ago(6), lines=[(p3, 1, 0)])
    o3, (l4,) = make_order(placed_at=ago(10), lines=[(p2, 5, 0)])
    o4, (l6,) = make_order(placed_at=ago(40), lines=[(p2, 2, 2)])
    bos = {
        "B1": make_backorder(l1, created_at=ago(1), quantity=4, quantity_allocated=1, status="partially_allocated"),
        "B2": make_backorder(
            l3, created_at=ago(2), quantity=6, quantity_allocated=6, status="allocated", allocated_at=ago(1),
            eta_first=ago(1).date(),
        ),
        "B5": make_backorder(l5, created_at=ago(6), quantity=1, quantity_allocated=1, status="allocated",
                             allocated_at=ago(1)),
        "B3": make_backorder(
            l4, created_at=ago(10), quantity=5, quantity_allocated=5, status="fulfilled", allocated_at=ago(8),
            fulfilled_at=ago(3), eta_first=ago(9).date(),
        ),
        "B4": make_backorder(l6, created_at=ago(40), quantity=2),
    }  # fmt: skip
    return bos


def by_key(days=7):
    return {k.key: k for k in metrics.kpis(days=days, now=NOW)}


def test_backorder_rate_and_fill_rate(dataset):
    k = by_key()
    # current: 4 lines / 21 units ordered; 3 lines / 11 units backordered (B1 4, B2 6, B5 1)
    assert k["backorder_rate_units"].value == round(11 / 21, 4)
    assert k["backorder_rate_lines"].value == 0.75
    assert k["line_fill_rate"].value == 0.25
    # previous: 1 line / 5 units, all backordered
    assert k["backorder_rate_units"].previous == 1.0
    assert k["line_fill_rate"].previous == 0.0
    assert k["line_fill_rate"].change == 0.25
    assert k["line_fill_rate"].trend == "good"
    assert k["backorder_rate_lines"].trend == "good"  # 1.0 → 0.75 is a fall of a bad thing


def test_durations_average_and_p90(dataset):
    k = by_key()
    # allocated in period: B2 after 1 day, B5 after 5 days → avg 3, p90 = 2nd of 2 (ceil(0.9 × 2)) = 5
    assert k["time_to_allocate_avg"].value == 3.0
    assert k["time_to_allocate_p90"].value == 5.0
    # previous: B3 allocated after 2 days
    assert k["time_to_allocate_avg"].previous == 2.0
    # fulfilled in period: B3 after 7 days; none in the previous period
    assert k["time_to_fulfil_avg"].value == 7.0
    assert k["time_to_fulfil_p90"].value == 7.0
    assert k["time_to_fulfil_avg"].previous is None
    assert k["time_to_fulfil_avg"].change is None


def test_open_backorders_now_and_at_period_start(dataset):
    k = by_key()
    # now: B1 (3 waiting × 5.00) and B4 (2 × 20.00)
    assert k["open_backorders"].value == 2
    assert k["open_units"].value == 5
    assert k["open_value"].value == Decimal("55.00")
    # at N−7d only B4 was waiting (B3 was allocated at N−8d)
    assert k["open_backorders"].previous == 1
    assert k["open_value"].previous == Decimal("40.00")


def test_on_time_promise_rate(dataset):
    k = by_key()
    assert k["on_time_promise_rate"].value == 1.0  # B2 allocated on its first ETA day; B5 had no ETA
    assert k["on_time_promise_rate"].previous == 0.0  # B3 allocated a day after its first ETA


@pytest.fixture
def notifications(dataset):
    """Sent N−1d, failed N−2d (current period); sent N−9d (previous)."""
    o1, o2, o3 = (dataset[b].order for b in ("B1", "B2", "B3"))
    for status, created, order in (("sent", ago(1), o1), ("failed", ago(2), o2), ("sent", ago(9), o3)):
        n = Notification.objects.create(
            customer=order.customer, order=order, event="backorder_created", channel="email", status=status,
            dedupe_key=f"t-{order.pk}-{status}", next_attempt_at=created, sent_at=created if status == "sent" else None,
        )  # fmt: skip
        Notification.objects.filter(pk=n.pk).update(created_at=created)


def test_notification_counts(notifications):
    k = by_key()
    assert (k["notifications_sent"].value, k["notifications_failed"].value) == (1, 1)
    assert (k["notifications_sent"].previous, k["notifications_failed"].previous) == (1, 0)


def test_empty_database_gives_none_not_errors(db):
    k = by_key(30)
    assert k["backorder_rate_units"].value is None
    assert k["open_value"].value == Decimal("0.00")
    assert k["time_to_allocate_p90"].value is None


def test_aging_buckets_and_top_products(dataset):
    assert [b["count"] for b in metrics.aging_buckets(now=NOW)] == [1, 0, 0, 1]
    top = metrics.top_backordered_products()
    assert [(r["product__sku"], r["units"]) for r in top] == [("P1", 3), ("P2", 2)]


def test_opened_closed_per_day(dataset):
    rows = {r["day"]: r for r in metrics.opened_closed_per_day(days=7, now=NOW)}
    assert len(rows) == 8  # N−7d … N, both ends included
    assert rows[ago(6).date()]["opened"] == 1
    assert rows[ago(2).date()]["opened"] == 1
    assert rows[ago(1).date()] == {"day": ago(1).date(), "opened": 1, "closed": 2}
    assert sum(r["closed"] for r in rows.values()) == 2


def test_open_value_per_day_walks_back_from_today(dataset):
    points = [(p["day"], p["value"]) for p in metrics.open_value_per_day(days=7, now=NOW)]
    values = [v for _, v in points]
    # end of N−7d: B4 40; N−6d…N−3d: + B5 100; N−2d: + B2 30; N−1d: B2, B5 allocated, B1 (4 × 5) opened → 60
    assert values == [Decimal(v) for v in ("40", "140", "140", "140", "140", "170", "60", "60")]
    assert points[0][0] == ago(7).date()
