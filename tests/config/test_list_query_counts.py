"""Every API list answers in a fixed number of queries: the same with a few rows as with three times as many
(no query per row), for staff and for a sales channel. Figures at volume: bench/api_lists.py."""

from datetime import date, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from suppliers.services import PurchaseOrderLineRequest, purchase_order_create, supplier_create, supplier_product_upsert

pytestmark = pytest.mark.django_db

STAFF_LISTS = [
    "/api/v1/backorders/",
    "/api/v1/backorders/?status=open&status=partially_allocated&eta_basis=none&eta_basis=lead_time",
    "/api/v1/backorders/?ordering=-created_at&page_size=2",
    "/api/v1/orders/",
    "/api/v1/orders/?status=backordered&priority=normal",
    "/api/v1/customers/",
    "/api/v1/products/",
    "/api/v1/stock/",
    "/api/v1/warehouses/",
    "/api/v1/suppliers/",
    "/api/v1/supplier-products/",
    "/api/v1/purchase-orders/",
    "/api/v1/shortages/",
    "/api/v1/planning/",
    "/api/v1/planning/backtest/",
    "/api/v1/notifications/",
    "/api/v1/notifications/?status=pending",
    "/api/v1/webhooks/",
]
CHANNEL_LISTS = ["/api/v1/backorders/", "/api/v1/orders/", "/api/v1/customers/", "/api/v1/products/"]


def _grow(make_product, place, channel, n):
    """n more products, each with a supplier offer, a purchase order and two orders (one through the channel)
    that backorder it."""
    supplier = supplier_create(code=f"supplier-{n}", name="Supplier")
    for _ in range(n):
        product = make_product(stock=1)
        supplier_product_upsert(supplier_code=supplier.code, sku=product.sku, lead_time_days=7)
        purchase_order_create(
            supplier_code=supplier.code,
            warehouse_code="MAIN",
            expected_date=date.today() + timedelta(days=10),
            lines=[PurchaseOrderLineRequest(sku=product.sku, quantity=5)],
            send=True,
        )
        place({product.sku: 2})
        place({product.sku: 2}, channel=channel)


def _queries(client, url) -> int:
    client.get(url)  # the API key's last-used stamp is written at most once a minute: not part of the list
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, (url, response.content[:300])
    return len(ctx.captured_queries)


def test_every_list_runs_the_same_queries_with_three_times_the_rows(
    make_product, place, staff_client, channel_key, channel_client
):
    channel = channel_key[0]
    _grow(make_product, place, channel, 2)
    few = {url: _queries(staff_client, url) for url in STAFF_LISTS}
    few_channel = {url: _queries(channel_client, url) for url in CHANNEL_LISTS}
    _grow(make_product, place, channel, 4)
    assert {url: _queries(staff_client, url) for url in STAFF_LISTS} == few
    assert {url: _queries(channel_client, url) for url in CHANNEL_LISTS} == few_channel
    assert max(few.values()) <= 8 and max(few_channel.values()) <= 8, (few, few_channel)
