from datetime import timedelta

import pytest
from django.utils import timezone

from backorders.models import Backorder
from backorders.services import backorder_priority_change
from fulfilment.services import LineRequest, order_place
from inventory.services import stock_adjust
from orders.services import CustomerData
from tests.inventory.test_api import assert_problem
from tests.orders.factories import CustomerFactory

pytestmark = pytest.mark.django_db

BACKORDERS = "/api/v1/backorders/"


def place_for(channel, lines, *, customer=None, **kwargs):
    customer = customer or CustomerFactory()
    data = CustomerData(customer.external_id, customer.email, customer.name)
    return order_place(
        customer=data, lines=[LineRequest(s, q) for s, q in lines.items()], channel=channel, **kwargs
    ).order


@pytest.fixture
def queue(make_product, channel_key):
    """Four waiting backorders of A-1 (one of them critical), one of B-1 from another channel."""
    from orders.services import api_key_create

    channel = channel_key[0]
    channel.max_priority = "critical"  # staff let this channel ask for any priority
    channel.save(update_fields=["max_priority"])
    other = api_key_create(channel_code="b2b-portal")[0].channel
    make_product(sku="A-1")
    make_product(sku="B-1")
    first = place_for(channel, {"A-1": 2})
    second = place_for(channel, {"A-1": 3})
    urgent = place_for(channel, {"A-1": 1}, priority="critical")
    last = place_for(channel, {"A-1": 4, "B-1": 1})
    theirs = place_for(other, {"B-1": 5})
    return {"first": first, "second": second, "urgent": urgent, "last": last, "theirs": theirs}


def ids(response):
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


def bo(order, sku="A-1"):
    return Backorder.objects.get(order=order, product__sku=sku)


def test_list_is_in_queue_order_with_queue_positions(queue, staff_client):
    response = staff_client.get(BACKORDERS, {"sku": "A-1"})
    rows = response.json()["results"]
    expected = [bo(queue[k]) for k in ("urgent", "first", "second", "last")]
    assert [row["id"] for row in rows] == [b.pk for b in expected]
    assert [row["queue_position"] for row in rows] == [1, 2, 3, 4]
    row = rows[1]
    first = queue["first"]
    assert row["order"] == first.number
    assert row["sku"] == "A-1"
    assert (row["status"], row["quantity"], row["quantity_allocated"], row["quantity_outstanding"]) == ("open", 2, 0, 2)
    assert (row["priority"], row["eta"], row["eta_basis"], row["reason"]) == ("normal", None, "none", "stockout")
    assert row["channel"] == "web-shop"
    assert row["customer"]["external_id"] == first.customer.external_id
    assert row["created_at"]


def test_queue_position_follows_allocation_and_priority(queue, staff_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        stock_adjust(sku="A-1", warehouse_code="MAIN", quantity=3, reason="found")  # urgent 1, first 2
    rows = {row["id"]: row for row in staff_client.get(BACKORDERS, {"sku": "A-1"}).json()["results"]}
    assert rows[bo(queue["urgent"]).pk]["status"] == "allocated"
    assert rows[bo(queue["urgent"]).pk]["queue_position"] is None
    assert rows[bo(queue["first"]).pk]["queue_position"] is None
    assert rows[bo(queue["second"]).pk]["queue_position"] == 1
    assert rows[bo(queue["last"]).pk]["queue_position"] == 2

    backorder_priority_change(backorder=bo(queue["last"]), priority="high", reason="VIP")
    rows = {row["id"]: row for row in staff_client.get(BACKORDERS, {"sku": "A-1"}).json()["results"]}
    assert rows[bo(queue["last"]).pk]["queue_position"] == 1
    assert rows[bo(queue["second"]).pk]["queue_position"] == 2
    # B-1 has its own queue
    assert staff_client.get(BACKORDERS, {"sku": "B-1"}).json()["results"][0]["queue_position"] == 1


def test_list_query_count_does_not_grow(queue, staff_client, django_assert_max_num_queries, make_product):
    with django_assert_max_num_queries(4):
        response = staff_client.get(BACKORDERS)
    assert response.json()["count"] == 6
    make_product(sku="C-1")
    for _ in range(10):
        place_for(None, {"C-1": 1})
    with django_assert_max_num_queries(4):
        response = staff_client.get(BACKORDERS)
    assert response.json()["count"] == 16


def test_filters(queue, staff_client):
    last_a, last_b = bo(queue["last"]), bo(queue["last"], "B-1")
    assert set(ids(staff_client.get(BACKORDERS, {"sku": "B-1"}))) == {last_b.pk, bo(queue["theirs"], "B-1").pk}
    assert ids(staff_client.get(BACKORDERS, {"priority": "critical"})) == [bo(queue["urgent"]).pk]
    assert set(ids(staff_client.get(BACKORDERS, {"customer": queue["last"].customer.email.upper()}))) == {
        last_a.pk,
        last_b.pk,
    }
    assert ids(staff_client.get(BACKORDERS, {"channel": "b2b-portal"})) == [bo(queue["theirs"], "B-1").pk]
    assert ids(staff_client.get(BACKORDERS, {"order": queue["first"].number})) == [bo(queue["first"]).pk]
    assert len(ids(staff_client.get(BACKORDERS, {"status": ["open", "allocated"]}))) == 6
    assert ids(staff_client.get(BACKORDERS, {"status": "cancelled"})) == []
    assert len(ids(staff_client.get(BACKORDERS, {"eta_basis": "none"}))) == 6

    Backorder.objects.filter(pk=last_a.pk).update(created_at=timezone.now() - timedelta(days=10))
    assert ids(staff_client.get(BACKORDERS, {"min_age": 7})) == [last_a.pk]
    assert last_a.pk not in ids(staff_client.get(BACKORDERS, {"max_age": 7}))
    assert ids(staff_client.get(BACKORDERS, {"min_age": 7, "max_age": 9})) == []


def test_ordering(queue, staff_client):
    by_created = ids(staff_client.get(BACKORDERS, {"ordering": "created_at"}))
    assert by_created == sorted(by_created)
    assert ids(staff_client.get(BACKORDERS, {"ordering": "-created_at"})) == list(reversed(by_created))
    assert ids(staff_client.get(BACKORDERS, {"ordering": "-priority"}))[0] == bo(queue["urgent"]).pk
    assert ids(staff_client.get(BACKORDERS, {"ordering": "priority"}))[-1] == bo(queue["urgent"]).pk
    assert len(ids(staff_client.get(BACKORDERS, {"ordering": "eta"}))) == 6


@pytest.mark.parametrize(
    "params",
    [
        {"min_age": -1},
        {"min_age": "ten"},
        {"max_age": 10**30},
        {"status": "lost"},
        {"priority": "urgent"},
        {"eta_basis": "guess"},
        {"ordering": "secret_field"},
        {"sku": "A\x00"},
        {"customer": "x" * 300},
    ],
)
def test_bad_filters_are_400(queue, staff_client, params):
    assert_problem(staff_client.get(BACKORDERS, params), 400, "validation_error")


def test_channel_sees_only_its_own_backorders(queue, channel_client, other_channel_client):
    mine = ids(channel_client.get(BACKORDERS))
    assert len(mine) == 5
    assert bo(queue["theirs"], "B-1").pk not in mine
    assert ids(other_channel_client.get(BACKORDERS)) == [bo(queue["theirs"], "B-1").pk]
    # filtering by another channel does not widen what a channel sees
    assert ids(channel_client.get(BACKORDERS, {"channel": "b2b-portal"})) == []
    assert_problem(channel_client.get(f"{BACKORDERS}{bo(queue['theirs'], 'B-1').pk}/"), 404, "not_found")
    assert channel_client.get(f"{BACKORDERS}{bo(queue['first']).pk}/").status_code == 200


def test_detail_has_events(queue, staff_client):
    backorder = bo(queue["last"])
    backorder_priority_change(backorder=backorder, priority="high", reason="VIP customer")
    response = staff_client.get(f"{BACKORDERS}{backorder.pk}/")
    assert response.status_code == 200
    data = response.json()
    assert (data["id"], data["order"], data["priority"], data["queue_position"]) == (
        backorder.pk,
        queue["last"].number,
        "high",
        2,  # behind the critical one
    )
    assert [event["kind"] for event in data["events"]] == ["created", "priority_changed"]
    assert "VIP customer" in data["events"][1]["message"]
    assert data["events"][1]["data"] == {"old": "normal", "new": "high", "reason": "VIP customer"}


def test_detail_not_found(staff_client, db):
    assert_problem(staff_client.get(f"{BACKORDERS}999999/"), 404, "not_found")
    assert_problem(staff_client.get(f"{BACKORDERS}99999999999999999999999/"), 404, "not_found")
    assert staff_client.get(f"{BACKORDERS}abc/").status_code == 404


def test_anonymous_is_refused(anon_client, db):
    assert_problem(anon_client.get(f"{BACKORDERS}1/"), 401, "not_authenticated")


# --- reads at volume (docs/performance.md, "Reads at volume") ---------------------------------------------------


def test_list_counts_without_queue_positions_and_positions_only_the_page(
    queue, staff_client, django_assert_max_num_queries
):
    """The count never computes queue positions (it took 83 s at 20,000 backorders); positions are read for the
    page's rows in one query, whatever the filter, the channel or the page size."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for params in ({}, {"status": ["open", "partially_allocated"]}, {"eta_basis": "none"}, {"page_size": 2}):
        with CaptureQueriesContext(connection) as ctx, django_assert_max_num_queries(4):
            response = staff_client.get(BACKORDERS, params)
        assert response.status_code == 200
        [count_sql] = [q["sql"] for q in ctx.captured_queries if "COUNT(" in q["sql"].upper()]
        assert "priority_rank" not in count_sql and "DISTINCT" not in count_sql.upper(), count_sql
    # page 2 of 2: the positions are those of the whole queue, not of the page
    rows = staff_client.get(BACKORDERS, {"sku": "A-1", "page_size": 2, "page": 2}).json()["results"]
    assert [(row["id"], row["queue_position"]) for row in rows] == [
        (bo(queue["second"]).pk, 3),
        (bo(queue["last"]).pk, 4),
    ]


def test_status_filter_with_several_values_lists_each_backorder_once(queue, staff_client, channel_client):
    waiting = {"status": ["open", "partially_allocated", "allocated"]}
    assert sorted(ids(staff_client.get(BACKORDERS, waiting))) == sorted(Backorder.objects.values_list("pk", flat=True))
    mine = Backorder.objects.exclude(order=queue["theirs"]).values_list("pk", flat=True)
    response = channel_client.get(BACKORDERS, {**waiting, "eta_basis": ["none", "lead_time"]})
    assert sorted(ids(response)) == sorted(mine)
    assert response.json()["count"] == len(mine)


def test_channel_list_query_count_is_fixed(queue, channel_client, django_assert_max_num_queries):
    for params in ({}, {"status": "open"}, {"page_size": 1}):
        with django_assert_max_num_queries(6):  # + the API key's lookup and its last-used stamp
            response = channel_client.get(BACKORDERS, params)
        assert response.status_code == 200
        assert all(row["queue_position"] for row in response.json()["results"])
