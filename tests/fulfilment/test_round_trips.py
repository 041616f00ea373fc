"""Round trips of POST /api/v1/orders/, the hot path every storefront hits, pinned (issue 13's targets).

In a test the request's transaction is a SAVEPOINT and a RELEASE, standing for BEGIN and COMMIT, so the statements
captured here are the round trips of a real request that takes the Python path (inside a test's transaction the
one-statement in-stock path never applies: tests/fulfilment/test_placement_in_stock.py pins that one at 2). A channel
request makes no connection health check (its API key lookup is the check: a dead session is replaced and the
lookup retried once). A returning customer, stock that was counted before (a stock item exists), the key's last use
recorded within the minute.
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from inventory.services import stock_adjust

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

HEALTH_CHECK = 0  # none for channel requests (orders.selectors._api_key_row)
IN_STOCK_ROUND_TRIPS = 6  # API key, BEGIN, lock (products, stock, queue demand, customer), writes, COMMIT
# Target ≤ 12: API key, (outside a test: the in-stock statement, which writes nothing here), BEGIN, lock (+ customer,
# terms, policy), the dates and reasons of every short line in one read (demand ahead, free stock, the supply port's
# lines, suppliers and history stamp, recent demand), the order statement, one statement for the backorders, their
# events and the ETA request rows, the customer's preference and the channel's webhook endpoints in one read, the
# outbox insert, COMMIT, the alternatives (substitutes) after it.
BACKORDERING_ROUND_TRIPS = 11


def _round_trips(client, body) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.post("/api/v1/orders/", body, format="json")
    assert response.status_code == 201, response.content
    return len(captured) + HEALTH_CHECK


def test_order_intake_round_trips(make_product, channel_client, warehouse):
    in_stock = make_product(stock=100)
    sold_out = make_product(stock=1)
    stock_adjust(sku=sold_out.sku, warehouse_code=warehouse.code, quantity=-1, reason="sold out")

    def body(sku):
        customer = {"external_id": "c-1", "email": "c1@example.com", "name": "C One"}
        return {"customer": customer, "lines": [{"sku": sku, "quantity": 1}]}

    channel_client.post("/api/v1/orders/", body(in_stock.sku), format="json")  # the customer exists from now on
    channel_client.post("/api/v1/orders/", body(sold_out.sku), format="json")
    assert _round_trips(channel_client, body(in_stock.sku)) <= IN_STOCK_ROUND_TRIPS
    assert _round_trips(channel_client, body(sold_out.sku)) <= BACKORDERING_ROUND_TRIPS
