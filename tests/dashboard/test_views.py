"""Dashboard pages through the real URLs, session auth and templates; actions go through the services."""

from __future__ import annotations

import csv
import io

import pytest

from backorders.models import Backorder, BackorderEvent
from tests.orders.factories import CustomerFactory

PAGES = [
    "/", "/?days=7", "/?days=90", "/backorders/", "/shortages/", "/products/", "/suppliers/", "/planning/",
    "/planning/?service_level=0.99&reorder_now=1", "/planning/?service_level=junk", "/search/?q=zz",
]  # fmt: skip


@pytest.fixture
def staff(client, staff_user):
    client.force_login(staff_user)
    return client


@pytest.fixture
def queue_data(make_product, place):
    """Three waiting backorders: Gold customer on DESK (2), standard customer on DESK (3) and on LAMP (1)."""
    desk = make_product(sku="DESK", unit_price="100.00")
    lamp = make_product(sku="LAMP", unit_price="20.00")
    gold = CustomerFactory(email="gold@example.com", name="Goldie", tier="gold")
    plain = CustomerFactory(email="plain@example.com", name="Plain Jane", tier="standard")
    o1 = place({"DESK": 2}, customer=gold)
    o2 = place({"DESK": 3, "LAMP": 1}, customer=plain)
    return {
        "gold_desk": o1.backorders.get(),
        "plain_desk": o2.backorders.get(product=desk),
        "plain_lamp": o2.backorders.get(product=lamp),
    }


def rows(response) -> list[str]:
    """Backorder ids of the queue table rows, in page order."""
    html = response.content.decode()
    return [chunk.split('"', 1)[0] for chunk in html.split('<tr data-backorder="')[1:]]


# --- access -----------------------------------------------------------------------------------


@pytest.mark.parametrize("url", PAGES)
def test_anonymous_is_sent_to_login(client, db, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


@pytest.mark.parametrize("url", PAGES)
def test_non_staff_is_refused(client, django_user_model, url):
    client.force_login(django_user_model.objects.create_user("clerk", password="pw"))
    assert client.get(url).status_code == 403


def test_non_staff_cannot_act(client, django_user_model, queue_data):
    client.force_login(django_user_model.objects.create_user("clerk", password="pw"))
    bo = queue_data["plain_lamp"]
    response = client.post(f"/backorders/{bo.pk}/cancel/", {"reason": "x"})
    assert response.status_code == 403
    bo.refresh_from_db()
    assert bo.status == "open"


@pytest.mark.parametrize("url", PAGES)
def test_staff_sees_every_page(staff, db, url):
    response = staff.get(url)
    assert response.status_code == 200
    assert b"Sign out" in response.content


def test_login_page_renders_and_logs_in(client, staff_user):
    assert client.get("/accounts/login/").status_code == 200
    response = client.post("/accounts/login/", {"username": "staff", "password": "staff-pass", "next": "/"})
    assert response.status_code == 302
    assert client.get("/").status_code == 200


# --- overview ---------------------------------------------------------------------------------


def test_overview_shows_kpi_cards_with_definitions_and_charts(staff, queue_data):
    html = staff.get("/?days=7").content.decode()
    assert html.count('class="card kpi"') == 14  # + SLA breaches
    assert 'data-kpi="open_backorders"' in html
    assert "Share of order lines placed in the period that were filled completely" in html
    assert html.count('<svg class="chart"') == 4
    assert "€520.00" in html  # cash tied up: DESK 2 × 100 + 3 × 100, LAMP 1 × 20


def test_overview_htmx_returns_only_the_body(staff, queue_data):
    response = staff.get("/?days=90", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="overview-body")
    html = response.content.decode()
    assert 'data-kpi="line_fill_rate"' in html
    assert "<html" not in html


# --- queue: filters, sort, pagination, export -----------------------------------------------------


def test_queue_lists_waiting_backorders_in_allocation_order(staff, queue_data):
    response = staff.get("/backorders/")
    ids = rows(response)
    # Gold outranks standard on score; the two standard ones keep placement (then id) order.
    assert ids == [str(queue_data[k].pk) for k in ("gold_desk", "plain_desk", "plain_lamp")]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"product": "lamp"}, ["plain_lamp"]),
        ({"customer": "gold@example.com"}, ["gold_desk"]),
        ({"customer": "plain"}, ["plain_desk", "plain_lamp"]),
        ({"tier": "gold"}, ["gold_desk"]),
        ({"q": "DESK"}, ["gold_desk", "plain_desk"]),
        ({"priority": "high"}, []),
        ({"reason": "stockout"}, ["gold_desk", "plain_desk", "plain_lamp"]),
        ({"eta_basis": "purchase_order"}, []),
        ({"min_age": "3"}, []),
        ({"status": "cancelled"}, []),
    ],
)
def test_queue_filters(staff, queue_data, params, expected):
    response = staff.get("/backorders/", params)
    assert response.status_code == 200
    assert rows(response) == [str(queue_data[k].pk) for k in expected]


def test_queue_filter_by_order_number(staff, queue_data):
    number = queue_data["plain_lamp"].order.number
    expected = [str(queue_data["plain_desk"].pk), str(queue_data["plain_lamp"].pk)]
    assert rows(staff.get("/backorders/", {"order": number})) == expected
    # Typed in lower case, with spaces around it: still found (through the unique index, not a scan).
    assert rows(staff.get("/backorders/", {"order": f" {number.lower()} "})) == expected
    assert rows(staff.get("/backorders/", {"q": number.lower()})) == expected


def test_queue_rejects_invalid_filters_with_400(staff, queue_data):
    response = staff.get("/backorders/", {"tier": "diamond", "min_age": "-4"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "Some filters are not valid" in html
    assert "tier" in html and "min_age" in html


def test_queue_sort_by_value_and_unknown_sort_falls_back(staff, queue_data):
    ids = rows(staff.get("/backorders/", {"sort": "value"}))
    assert ids[0] == str(queue_data["plain_desk"].pk)  # 3 × 100 is the largest
    assert rows(staff.get("/backorders/", {"sort": "bogus"}))[0] == str(queue_data["gold_desk"].pk)


def test_queue_paginates(staff, queue_data, monkeypatch):
    from dashboard.views import backorders as views

    monkeypatch.setattr(views, "PAGE_SIZE", 2)
    first = staff.get("/backorders/")
    second = staff.get("/backorders/", {"page": 2})
    assert len(rows(first)) == 2 and len(rows(second)) == 1
    assert "Page 2 of 2" in second.content.decode()


def test_queue_query_count_does_not_grow_with_rows(staff, queue_data, django_assert_max_num_queries):
    with django_assert_max_num_queries(8):
        staff.get("/backorders/")


def test_queue_csv_export_uses_the_current_filters(staff, queue_data):
    response = staff.get("/backorders/", {"customer": "plain", "format": "csv"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    table = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert table[0][:3] == ["backorder", "order", "placed_at"]
    body = table[1:]
    assert [r[0] for r in body] == [f"BO-{queue_data['plain_desk'].pk}", f"BO-{queue_data['plain_lamp'].pk}"]
    header = table[0]
    assert body[0][header.index("sku")] == "DESK"
    assert body[0][header.index("waiting")] == "3"
    assert body[0][header.index("value")] == "300.00"
    assert body[0][header.index("covered_by_po")] == ""


def test_other_tables_export_csv(staff, queue_data):
    products = staff.get("/products/", {"q": "DESK", "format": "csv"})
    table = list(csv.reader(io.StringIO(b"".join(products.streaming_content).decode())))
    assert table[0][0] == "sku"
    assert [r[0] for r in table[1:]] == ["DESK"]
    assert table[1][table[0].index("waiting")] == "5"
    suppliers = staff.get("/suppliers/", {"format": "csv"})
    assert b"".join(suppliers.streaming_content).decode().startswith("supplier,")


# --- actions ----------------------------------------------------------------------------------


def test_change_priority_reorders_the_queue_and_records_why(staff, queue_data, staff_user):
    lamp = queue_data["plain_lamp"]
    response = staff.post(
        f"/backorders/{lamp.pk}/priority/", {"priority": "critical", "reason": "CEO order", "next": "/backorders/"}
    )
    assert response.status_code == 303
    assert response["Location"] == "/backorders/"
    lamp.refresh_from_db()
    assert (lamp.priority, lamp.priority_rank) == ("critical", 3)
    event = lamp.events.get(kind=BackorderEvent.Kind.PRIORITY_CHANGED)
    assert "CEO order" in event.message and event.actor == staff_user.username
    page = staff.get("/backorders/")
    assert rows(page)[0] == str(lamp.pk)
    assert "priority set to critical" in page.content.decode()


def test_change_priority_without_reason_is_refused_and_changes_nothing(staff, queue_data):
    lamp = queue_data["plain_lamp"]
    response = staff.post(f"/backorders/{lamp.pk}/priority/", {"priority": "critical", "reason": "  "})
    assert response.status_code == 422
    assert "Nothing was changed" in response.content.decode()
    lamp.refresh_from_db()
    assert lamp.priority == "normal"
    assert not lamp.events.filter(kind=BackorderEvent.Kind.PRIORITY_CHANGED).exists()


def test_change_priority_rejects_unknown_priority(staff, queue_data):
    lamp = queue_data["plain_lamp"]
    assert staff.post(f"/backorders/{lamp.pk}/priority/", {"priority": "urgent!!", "reason": "x"}).status_code == 422


def test_action_on_missing_backorder_is_404(staff, db):
    assert staff.post("/backorders/999999/cancel/", {"reason": "x"}).status_code == 404


def test_actions_refuse_get(staff, queue_data):
    assert staff.get(f"/backorders/{queue_data['plain_lamp'].pk}/cancel/").status_code == 405


def test_cancel_goes_through_the_order_service(staff, queue_data):
    lamp = queue_data["plain_lamp"]
    response = staff.post(f"/backorders/{lamp.pk}/cancel/", {"reason": "customer called"})
    assert response.status_code == 303
    lamp.refresh_from_db()
    assert lamp.status == Backorder.Status.CANCELLED
    assert lamp.order_line.quantity_cancelled == 1 and lamp.order_line.quantity_backordered == 0
    assert str(lamp.pk) not in rows(staff.get("/backorders/"))
    # A second cancel is refused by the service (409) and shows why.
    again = staff.post(f"/backorders/{lamp.pk}/cancel/", {"reason": "again"})
    assert again.status_code == 409
    assert "nothing is waiting to cancel" in again.content.decode()


def test_send_update_records_the_note(staff, queue_data):
    lamp = queue_data["plain_lamp"]
    response = staff.post(f"/backorders/{lamp.pk}/update/", {"note": "Arrives next Tuesday."})
    assert response.status_code == 303
    assert lamp.events.filter(kind=BackorderEvent.Kind.NOTE, message__contains="Arrives next Tuesday").exists()
    assert staff.post(f"/backorders/{lamp.pk}/update/", {"note": ""}).status_code == 422


def test_bulk_priority_change(staff, queue_data):
    ids = [queue_data["plain_desk"].pk, queue_data["plain_lamp"].pk]
    response = staff.post("/backorders/bulk/", {"ids": ids, "action": "priority", "priority": "high", "reason": "VIP"})
    assert response.status_code == 303
    assert set(Backorder.objects.filter(pk__in=ids).values_list("priority", flat=True)) == {"high"}


def test_bulk_is_all_or_nothing(staff, queue_data):
    lamp, desk = queue_data["plain_lamp"], queue_data["gold_desk"]
    staff.post(f"/backorders/{lamp.pk}/cancel/", {"reason": "gone"})
    response = staff.post("/backorders/bulk/", {"ids": [desk.pk, lamp.pk], "action": "cancel", "reason": "bulk"})
    assert response.status_code == 409
    desk.refresh_from_db()
    assert desk.status == "open"  # rolled back with the refused one


def test_bulk_needs_a_selection_and_a_reason(staff, queue_data):
    assert staff.post("/backorders/bulk/", {"action": "cancel"}).status_code == 422
    pk = queue_data["plain_desk"].pk
    assert staff.post("/backorders/bulk/", {"ids": [pk], "action": "priority", "priority": "high"}).status_code == 422
    assert Backorder.objects.get(pk=pk).priority == "normal"


def test_next_url_cannot_redirect_off_site(staff, queue_data):
    lamp = queue_data["plain_lamp"]
    response = staff.post(f"/backorders/{lamp.pk}/update/", {"note": "hi", "next": "https://evil.example/"})
    assert response["Location"] == "/backorders/"


# --- detail, products, search -----------------------------------------------------------------


def test_detail_shows_order_timeline_and_alternatives(staff, queue_data, make_product):
    desk = queue_data["plain_desk"]
    alt = make_product(sku="DESK-ALT", stock=7)
    alt.substitutes.add(desk.product)
    staff.post(f"/backorders/{desk.pk}/priority/", {"priority": "high", "reason": "loyal customer"})
    html = staff.get(f"/backorders/{desk.pk}/").content.decode()
    assert desk.order.number in html
    assert "Created" in html and "Priority changed" in html and "loyal customer" in html
    assert "DESK-ALT" in html


def test_product_page_shows_history_chart(staff, queue_data):
    product = queue_data["plain_desk"].product
    html = staff.get(f"/products/{product.pk}/").content.decode()
    assert '<svg class="chart"' in html
    assert f"BO-{queue_data['gold_desk'].pk}" in html


def test_search_routes_order_sku_and_email(staff, queue_data):
    order = queue_data["gold_desk"].order
    assert staff.get("/search/", {"q": order.number})["Location"].endswith(f"order={order.number}")
    assert staff.get("/search/", {"q": order.number.lower()})["Location"].endswith(f"order={order.number}")
    product = queue_data["plain_lamp"].product
    assert staff.get("/search/", {"q": "lamp"})["Location"] == f"/products/{product.pk}/"
    assert "customer=plain%40example.com" in staff.get("/search/", {"q": "plain@example.com"})["Location"]
    assert "Nothing found" in staff.get("/search/", {"q": "zzzz"}).content.decode()


def test_overview_figures_are_cached_for_a_minute(staff, queue_data, django_assert_max_num_queries):
    first = staff.get("/?days=30").content.decode()
    assert "€520.00" in first
    with django_assert_max_num_queries(3):  # session + user only: no KPI query
        second = staff.get("/?days=30").content.decode()
    assert "figures as of" in second and "€520.00" in second


def test_queue_htmx_filter_returns_only_the_results(staff, queue_data):
    response = staff.get("/backorders/", {"tier": "gold"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="queue-results")
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="queue-results"')
    assert rows(response) == [str(queue_data["gold_desk"].pk)]


@pytest.mark.parametrize("url", ["/search/", "/products/"])
def test_search_boxes_drop_nul_characters(staff, db, url):
    """PostgreSQL refuses NUL in a string: found by the generated query strings (tests/test_api_fuzz.py)."""
    response = staff.get(url, {"q": "zz\x00"})
    assert response.status_code == 200
    assert "zz" in response.content.decode()
