"""The dashboard in a real browser: sign in, read KPIs and charts, work the queue, export, and be refused."""

from __future__ import annotations

import csv
import io

import pytest

from backorders.models import Backorder
from tests.conftest import role_group
from tests.orders.factories import CustomerFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def staff(django_user_model):
    user = django_user_model.objects.create_user("planner", "planner@example.com", "planner-pw", is_staff=True)
    user.groups.add(role_group("Admin"))  # the tests work the queue: priority and cancel
    return user


@pytest.fixture
def waiting(make_product, place):
    """Four waiting backorders: a gold customer on CHAIR, then three standard ones (CHAIR, DESK, LAMP)."""
    make_product(sku="CHAIR", unit_price="150.00")
    make_product(sku="DESK", unit_price="400.00")
    make_product(sku="LAMP", unit_price="30.00")
    gold = CustomerFactory(email="gold@example.com", name="Gold Buyer", tier="gold")
    plain = CustomerFactory(email="plain@example.com", name="Plain Buyer")
    place({"CHAIR": 2}, customer=gold)
    place({"CHAIR": 1, "DESK": 1, "LAMP": 4}, customer=plain)
    return {bo.product.sku + ("-gold" if bo.order.customer == gold else ""): bo
            for bo in Backorder.objects.select_related("product", "order__customer")}  # fmt: skip


def queue_ids(page) -> list[str]:
    return page.locator("table.queue tbody tr").evaluate_all("rows => rows.map(r => r.dataset.backorder)")


def test_staff_sees_kpi_cards_and_rendered_charts(login, staff, waiting, live_server):
    page = login("planner", "planner-pw")
    assert page.url == f"{live_server.url}/"
    assert page.locator(".kpi").count() == 14  # + SLA breaches (issue 15)
    open_card = page.locator('[data-kpi="open_backorders"] .value')
    assert open_card.inner_text() == "4"
    charts = page.locator("svg.chart")
    assert charts.count() == 4
    box = charts.first.bounding_box()
    assert box and box["width"] > 200 and box["height"] > 60  # laid out, not just present in the markup
    assert page.locator("svg.chart polyline").count() >= 2
    assert page.locator("svg.chart rect.bar").count() >= 3
    # Switching the period is a partial (htmx) update of the KPI area.
    page.click("nav.segmented >> text=7 days")
    page.wait_for_url("**/?days=7")
    assert "Last 7 days" in page.locator("#overview-body").inner_text()


def test_queue_filter_reprioritise_cancel_and_export(login, staff, waiting, live_server):
    page = login("planner", "planner-pw")
    page.goto(f"{live_server.url}/backorders/")
    ids = queue_ids(page)
    assert ids[0] == str(waiting["CHAIR-gold"].pk)  # gold outranks standard
    assert len(ids) == 4

    # Filter: one customer's backorders only (htmx swaps the results, the URL keeps the filter).
    page.fill("input[name=customer]", "plain@example.com")
    page.click("#queue-filters button[type=submit]")
    page.wait_for_url("**customer=plain%40example.com**")
    page.wait_for_function("document.querySelectorAll('table.queue tbody tr').length === 3")
    page.wait_for_load_state("networkidle")
    assert str(waiting["CHAIR-gold"].pk) not in queue_ids(page)

    # Change priority of the last row to critical: it moves to the top of the queue.
    lamp = waiting["LAMP"]
    row = page.locator(f'tr[data-backorder="{lamp.pk}"]')
    row.locator("summary").click()
    row.locator(".priority-form select[name=priority]").select_option("critical")
    row.locator(".priority-form input[name=reason]").fill("Hospital needs it first")
    row.locator(".priority-form button").click()
    page.wait_for_selector(".flash.success")
    assert "priority set to critical" in page.locator(".flash.success").inner_text()
    assert queue_ids(page)[0] == str(lamp.pk)
    lamp.refresh_from_db()
    assert lamp.priority == "critical"

    # Cancel another backorder: it leaves the waiting queue.
    desk = waiting["DESK"]
    row = page.locator(f'tr[data-backorder="{desk.pk}"]')
    row.locator("summary").click()
    row.locator(".cancel-form input[name=reason]").fill("Customer changed their mind")
    row.locator(".cancel-form button").click()
    page.wait_for_selector(".flash.success >> text=cancelled")
    assert str(desk.pk) not in queue_ids(page)
    desk.refresh_from_db()
    assert desk.status == Backorder.Status.CANCELLED

    # Export what the filter shows as CSV (a real download).
    with page.expect_download() as download_info:
        page.click("text=Export CSV")
    download = download_info.value
    assert download.suggested_filename.startswith("backorders-") and download.suggested_filename.endswith(".csv")
    with open(download.path(), encoding="utf-8") as handle:
        table = list(csv.reader(io.StringIO(handle.read())))
    assert table[0][0] == "backorder"
    assert sorted(r[0] for r in table[1:]) == sorted([f"BO-{lamp.pk}", f"BO-{waiting['CHAIR'].pk}"])
    assert all(r[table[0].index("customer_email")] == "plain@example.com" for r in table[1:])


def test_non_staff_user_is_refused(login, django_user_model, live_server, db):
    django_user_model.objects.create_user("clerk", "clerk@example.com", "clerk-pw")
    page = login("clerk", "clerk-pw")
    response = page.goto(f"{live_server.url}/backorders/")
    assert response.status == 403
    assert page.locator("table.queue").count() == 0


def test_anonymous_is_sent_to_login(page, live_server, db):
    page.goto(f"{live_server.url}/suppliers/")
    assert "/accounts/login/" in page.url
    assert page.locator("input[name=password]").is_visible()
