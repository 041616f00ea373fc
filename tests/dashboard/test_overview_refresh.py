"""The overview's figures are precomputed by the beat task into the cache; page views read them from there."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from backorders.models import Backorder
from dashboard import metrics
from dashboard.selectors import overview_cache_key
from dashboard.tasks import dashboard_overview_refresh
from fulfilment.services import backorder_cancel
from tests.orders.factories import CustomerFactory


@pytest.fixture
def staff(client, staff_user):
    client.force_login(staff_user)
    return client


@pytest.fixture
def waiting(make_product, place):
    """Two waiting backorders: 2 DESK at €100 and 1 LAMP at €20 (€220 tied up)."""
    make_product(sku="DESK", unit_price="100.00")
    make_product(sku="LAMP", unit_price="20.00")
    order = place({"DESK": 2, "LAMP": 1}, customer=CustomerFactory())
    return {bo.product.sku: bo for bo in Backorder.objects.filter(order=order).select_related("product")}


def test_task_fills_the_cache_for_every_period(db, waiting):
    assert all(cache.get(overview_cache_key(days)) is None for days in metrics.PERIODS)
    assert dashboard_overview_refresh() == list(metrics.PERIODS)
    for days in metrics.PERIODS:
        context = cache.get(overview_cache_key(days))
        assert context["days"] == days
        assert len(context["cards"]) == 14  # + SLA breaches (issue 15)
        open_value = next(card for card in context["cards"] if card["key"] == "open_value")
        assert open_value["value"] == "€220.00"
        assert context["computed_at"] is not None


def test_page_after_the_task_runs_reads_the_cache_not_the_kpis(staff, waiting, django_assert_max_num_queries):
    with CaptureQueriesContext(connection) as cold:
        assert "€220.00" in staff.get("/?days=90").content.decode()
    cache.clear()
    dashboard_overview_refresh()
    computed_at = cache.get(overview_cache_key(90))["computed_at"]
    with django_assert_max_num_queries(3) as warm:  # session + user only: no KPI query
        html = staff.get("/?days=90").content.decode()
    assert "€220.00" in html
    assert f"figures as of {timezone.localtime(computed_at):%H:%M:%S}" in html  # the time the task computed them
    # A cold render runs every KPI query (18 on PostgreSQL, plus session and user); the warm one none of them.
    assert len(cold.captured_queries) >= 5 * len(warm.captured_queries), (cold.captured_queries, warm.captured_queries)


def test_page_shows_new_figures_once_the_task_has_run_again(staff, waiting, staff_user):
    dashboard_overview_refresh()
    assert "€220.00" in staff.get("/?days=30").content.decode()
    backorder_cancel(backorder=waiting["DESK"], reason="customer gave up", user=staff_user)
    assert "€220.00" in staff.get("/?days=30").content.decode()  # served from the precomputed figures
    dashboard_overview_refresh()
    html = staff.get("/?days=30").content.decode()
    assert "€20.00" in html and "€220.00" not in html


def test_a_cold_overview_is_computed_once_others_wait_for_it(db, waiting, monkeypatch):
    """While one request computes the empty overview, another waits for its result instead of computing too."""
    import threading

    from dashboard import selectors as dashboard

    key = overview_cache_key(30)
    cache.add(f"{key}:computing", 1, 30)  # another request is computing
    computed = {"days": 30, "computed_by": "the other request"}
    threading.Timer(0.3, lambda: cache.set(key, computed, 60)).start()

    assert dashboard.overview_get(days=30) == computed


def test_a_waiting_request_computes_itself_if_the_other_never_finishes(db, waiting, monkeypatch):
    from dashboard import selectors as dashboard

    monkeypatch.setattr(dashboard, "OVERVIEW_WAIT_SECONDS", 0.3)
    key = overview_cache_key(30)
    cache.add(f"{key}:computing", 1, 30)  # a request that died while computing

    context = dashboard.overview_get(days=30)

    assert context["days"] == 30 and len(context["cards"]) == 14
    assert cache.get(key)["days"] == 30


def test_the_computing_request_releases_its_lock(db, waiting):
    from dashboard import selectors as dashboard

    key = overview_cache_key(30)
    assert dashboard.overview_get(days=30)["days"] == 30
    assert cache.get(f"{key}:computing") is None
