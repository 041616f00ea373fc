"""Planning's daily demand rollup: the totals read from the rollup plus the newer order lines always equal the totals
from every order line (``demand_totals_from_lines``, the definition), whenever the rollup was last refreshed and
whatever changed after it; and the plan is the same with or without a rollup."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest
from django.utils import timezone

from orders.models import Order, OrderLine
from suppliers.models import DailyDemand, DemandRollup, MonthlyDemand
from suppliers.planning import replenishment_plan
from suppliers.selectors import _whole_months, demand_totals, demand_totals_from_lines
from suppliers.services.demand import demand_rollup_refresh
from tests.suppliers.factories import SupplierProductFactory

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

WINDOWS = (7, 56, 365, 400)


def _at(days_ago: int, hour: int = 12):
    day = timezone.localdate() - timedelta(days=days_ago)
    return timezone.make_aware(datetime.combine(day, time(hour)))


def _place_on(place, lines: dict[str, int], days_ago: int, hour: int = 12):
    order = place(lines)
    Order.objects.filter(pk=order.pk).update(placed_at=_at(days_ago, hour))
    return order


def _by_month(rows) -> dict:
    totals: dict = {}
    for product_id, month, units, squares in rows:
        pair = totals.setdefault((product_id, month), [0, 0])
        pair[0] += units
        pair[1] += squares
    return {key: pair for key, pair in totals.items() if pair != [0, 0]}


def _assert_months_follow_days():
    """The monthly level always equals the daily rows summed by month (Σ units, Σ units²)."""
    days = DailyDemand.objects.values_list("product_id", "day", "units")
    months = MonthlyDemand.objects.values_list("product_id", "month", "units", "squares")
    assert _by_month(months) == _by_month((p, day.replace(day=1), u, u * u) for p, day, u in days)


def _assert_agree(product_ids=None):
    _assert_months_follow_days()
    today = timezone.localdate()
    for window in WINDOWS:
        start = today - timedelta(days=window)
        expected = demand_totals_from_lines(start=start, today=today, product_ids=product_ids)
        assert demand_totals(start=start, today=today, product_ids=product_ids) == expected, window


@pytest.fixture
def products(make_product):
    return [make_product(sku=f"P-{n}", stock=1000) for n in range(3)]


def test_rollup_plus_newer_lines_equal_every_line(place, products):
    a, b, c = (p.sku for p in products)
    _assert_agree()  # nothing yet, no rollup
    _place_on(place, {a: 2, b: 1}, 3)
    _place_on(place, {a: 5}, 3, hour=23)
    _place_on(place, {c: 4}, 40)
    _place_on(place, {a: 1}, 400)  # outside every window
    _place_on(place, {b: 7}, 0)  # today: not in a window (closed days only)
    _assert_agree()
    demand_rollup_refresh()
    assert DemandRollup.objects.get().line_id_upto == OrderLine.objects.order_by("-id").first().pk
    assert DailyDemand.objects.exists()
    _assert_agree()
    # After the refresh: new orders on old days (an import), and on days the rollup holds.
    _place_on(place, {a: 3, c: 1}, 3)
    _place_on(place, {b: 2}, 100)
    _assert_agree()
    _assert_agree(product_ids=[products[0].pk])
    stale = DemandRollup.objects.get().line_id_upto
    demand_rollup_refresh()
    _assert_agree()
    demand_rollup_refresh()  # nothing new: nothing counted twice
    _assert_agree()
    # A refresh between reading the watermark and reading the sums: seen, and read again.
    today = timezone.localdate()
    start = today - timedelta(days=56)
    assert demand_totals(start=start, today=today, upto=stale) == demand_totals_from_lines(start=start, today=today)


def test_changes_to_rolled_up_lines_reach_the_rollup(place, products):
    a, b, _ = (p.sku for p in products)
    first = _place_on(place, {a: 2, b: 3}, 5)
    second = _place_on(place, {a: 4}, 9)
    demand_rollup_refresh()
    # A substitute adds units to an existing line; a line moves to another product; an order's date moves.
    OrderLine.objects.filter(order=first, product__sku=a).update(quantity=6, quantity_allocated=6)
    _assert_agree()
    line = OrderLine.objects.get(order=second)
    OrderLine.objects.filter(pk=line.pk).update(product=products[2])
    _assert_agree()
    Order.objects.filter(pk=first.pk).update(placed_at=_at(30))
    _assert_agree()
    # A line of an old order written after the refresh (a substitute's new line) is read live.
    OrderLine.objects.create(order=second, product=products[1], quantity=2, unit_price=1, quantity_allocated=2)
    _assert_agree()
    demand_rollup_refresh()
    _assert_agree()


def test_another_time_zone_rebuilds_the_rollup(place, products, settings):
    _place_on(place, {products[0].sku: 2}, 2, hour=23)
    _place_on(place, {products[0].sku: 3}, 2, hour=1)
    demand_rollup_refresh()
    settings.TIME_ZONE = "America/New_York"
    with timezone.override("America/New_York"):
        _assert_agree()  # the rollup is another zone's: every line is read live
        demand_rollup_refresh()
        assert DemandRollup.objects.get().time_zone == "America/New_York"
        _assert_agree()


def test_the_plan_is_the_same_with_and_without_the_rollup(place, products):
    for n, product in enumerate(products):
        SupplierProductFactory(product=product, preferred=True, lead_time_days=5 + n)
        for day in range(1, 30, 1 + n):
            _place_on(place, {product.sku: 1 + (day * (n + 1)) % 5}, day)
    without = [replenishment_plan(window_days=w) for w in WINDOWS]
    demand_rollup_refresh()
    assert [replenishment_plan(window_days=w) for w in WINDOWS] == without
    _place_on(place, {products[1].sku: 9}, 2)  # after the refresh: read live
    with_rollup = [replenishment_plan(window_days=w) for w in WINDOWS]
    assert with_rollup != without
    DailyDemand.objects.all().delete()
    DemandRollup.objects.all().delete()
    assert [replenishment_plan(window_days=w) for w in WINDOWS] == with_rollup


def test_the_refresh_waits_for_older_writers_of_order_lines(place, products):
    """A transaction that began before the refresh and writes order lines may still commit a line numbered below
    the newest one: the refresh waits for it (here: gives up after the wait, writing nothing), then runs once it
    has ended."""
    import threading

    from django.db import connections

    _place_on(place, {products[0].sku: 2}, 3)
    holding, release = threading.Event(), threading.Event()

    def writer():
        other = connections.create_connection("default")
        try:
            with other.cursor() as cursor:
                cursor.execute("BEGIN")
                cursor.execute("LOCK TABLE orders_orderline IN ROW EXCLUSIVE MODE")
                holding.set()
                release.wait(10)
                cursor.execute("ROLLBACK")
        finally:
            other.close()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert holding.wait(10)
        with pytest.raises(TimeoutError):
            demand_rollup_refresh(max_wait_seconds=0.3)
        assert not DailyDemand.objects.exists()
    finally:
        release.set()
        thread.join()
    assert demand_rollup_refresh() == OrderLine.objects.order_by("-id").first().pk
    _assert_agree()


def test_whole_months_of_a_window():
    from datetime import date

    assert _whole_months(date(2031, 1, 1), date(2031, 3, 15)) == (date(2031, 1, 1), date(2031, 3, 1))
    assert _whole_months(date(2030, 12, 2), date(2031, 3, 1)) == (date(2031, 1, 1), date(2031, 3, 1))
    assert _whole_months(date(2031, 1, 31), date(2031, 3, 31)) == (date(2031, 2, 1), date(2031, 3, 1))
    # No whole month inside: an empty range, every day read from the daily rows.
    assert _whole_months(date(2031, 1, 2), date(2031, 2, 20)) == (date(2031, 1, 2), date(2031, 1, 2))
    assert _whole_months(date(2031, 2, 1), date(2031, 2, 28)) == (date(2031, 2, 1), date(2031, 2, 1))


def test_the_refresh_folds_the_monthly_level_into_one_row_per_month(place, products):
    a, b, _ = (p.sku for p in products)
    first = _place_on(place, {a: 2, b: 3}, 40)
    _place_on(place, {a: 4}, 75)
    demand_rollup_refresh()
    for days_ago in (41, 70, 120):
        _place_on(place, {a: 1, b: 2}, days_ago)
    demand_rollup_refresh()  # new days of months that had rows: appended, then folded
    OrderLine.objects.filter(order=first, product__sku=a).update(quantity=5, quantity_allocated=5)
    Order.objects.filter(pk=first.pk).update(placed_at=_at(200))
    assert MonthlyDemand.objects.count() > len(
        _by_month(MonthlyDemand.objects.values_list("product_id", "month", "units", "squares"))
    )
    _assert_agree()
    demand_rollup_refresh()
    months = MonthlyDemand.objects.values_list("product_id", "month", "units", "squares")
    assert MonthlyDemand.objects.count() == len(_by_month(months))
    _assert_agree()
