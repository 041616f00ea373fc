"""The backorder's copy of its order's sales channel (what the channel lists filter on, docs/performance.md "Reads at
volume") is always the order's: set when the backorder is created, whoever writes it, and following the order."""

import pytest
from django.db import connection

from backorders.models import Backorder
from fulfilment.integrity import integrity_problems
from orders.models import Order
from orders.services import api_key_create
from tests.backorders.test_api import BACKORDERS, place_for

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


def _copies_differ() -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT b.id FROM backorders_backorder b JOIN orders_order o ON o.id = b.order_id"
            " WHERE b.channel_id IS DISTINCT FROM o.channel_id"
        )
        return cursor.fetchall()


@pytest.fixture
def channels(db):
    return api_key_create(channel_code="web-shop")[0].channel, api_key_create(channel_code="b2b-portal")[0].channel


def test_a_backorder_gets_its_orders_channel_when_it_is_created(make_product, place, channels):
    web, _ = channels
    make_product(sku="A-1", stock=1)
    through_channel = place_for(web, {"A-1": 3})
    by_staff = place({"A-1": 2})  # no channel
    mine = Backorder.objects.get(order=through_channel)
    assert mine.channel_id == web.pk
    assert Backorder.objects.values_list("channel_id", flat=True).get(pk=mine.pk) == web.pk
    assert Backorder.objects.get(order=by_staff).channel_id is None
    assert _copies_differ() == [] and integrity_problems() == []


def test_set_based_sql_cannot_write_another_channel(make_product, channels):
    """A writer that names no channel, or a wrong one, still stores the order's (the trigger reads it)."""
    web, b2b = channels
    make_product(sku="A-1", stock=0)
    make_product(sku="B-1", stock=5)
    order = place_for(web, {"A-1": 2, "B-1": 1})
    backorder = Backorder.objects.get(order=order)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE backorders_backorder SET channel_id = %s WHERE id = %s", [b2b.pk, backorder.pk])
        cursor.execute("UPDATE backorders_backorder SET channel_id = NULL WHERE id = %s", [backorder.pk])
    backorder.refresh_from_db()
    assert backorder.channel_id == web.pk
    # A raw insert without the column (as bulk imports and the demo data write them), for the in-stock line.
    line = order.lines.get(product__sku="B-1")
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO backorders_backorder (order_line_id, order_id, product_id, quantity, quantity_allocated,"
            " quantity_cancelled, status, reason, priority, priority_rank, priority_score, placed_at, created_at,"
            " eta_basis, sla_breached) SELECT l.id, l.order_id, l.product_id, 1, 0, 0, 'cancelled', 'stockout',"
            " 'normal', 1, 0, now(), now(), 'none', false FROM orders_orderline l WHERE l.id = %s RETURNING channel_id",
            [line.pk],
        )
        assert cursor.fetchone() == (web.pk,)
    assert _copies_differ() == []


def test_the_copy_follows_a_change_of_the_orders_channel(make_product, channels):
    web, b2b = channels
    make_product(sku="A-1", stock=0)
    make_product(sku="B-1", stock=0)
    order = place_for(web, {"A-1": 2, "B-1": 1})
    Order.objects.filter(pk=order.pk).update(channel=b2b)
    assert set(Backorder.objects.filter(order=order).values_list("channel_id", flat=True)) == {b2b.pk}
    Order.objects.filter(pk=order.pk).update(channel=None)
    assert set(Backorder.objects.filter(order=order).values_list("channel_id", flat=True)) == {None}
    assert _copies_differ() == [] and integrity_problems() == []


def test_the_integrity_check_reports_a_copy_that_differs(make_product, channels):
    web, b2b = channels
    make_product(sku="A-1", stock=0)
    backorder = Backorder.objects.get(order=place_for(web, {"A-1": 2}))
    with connection.cursor() as cursor:  # only possible with the trigger off (a restore, a manual repair)
        cursor.execute("SET LOCAL session_replication_role = replica")  # triggers off for this statement
        cursor.execute("UPDATE backorders_backorder SET channel_id = %s WHERE id = %s", [b2b.pk, backorder.pk])
        cursor.execute("SET LOCAL session_replication_role = DEFAULT")
    assert integrity_problems() == [
        f"backorder {backorder.pk} (order {backorder.order.number}): channel {b2b.pk} != its order's {web.pk}"
    ]


def test_channel_lists_and_filter_read_the_copy(make_product, place, channels, staff_client):
    from rest_framework.test import APIClient

    web, b2b = channels
    make_product(sku="A-1", stock=0)
    mine = Backorder.objects.get(order=place_for(web, {"A-1": 2}))
    theirs = Backorder.objects.get(order=place_for(b2b, {"A-1": 1}))
    Backorder.objects.get(order=place({"A-1": 1}))  # staff's, no channel
    _, raw = api_key_create(channel_code="web-shop")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    assert [row["id"] for row in client.get(BACKORDERS).json()["results"]] == [mine.pk]
    assert client.get(f"{BACKORDERS}{theirs.pk}/").status_code == 404
    assert [row["id"] for row in staff_client.get(BACKORDERS, {"channel": "b2b-portal"}).json()["results"]] == [
        theirs.pk
    ]
    assert staff_client.get(BACKORDERS).json()["count"] == 3
