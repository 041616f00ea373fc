"""Every list accepts ``?updated_since=`` and returns ``updated_at``; set-based writes move ``updated_at`` too."""

from datetime import timedelta

import pytest
from django.utils import timezone

from backorders.models import Backorder
from inventory.models import Product

LISTS = [
    "/api/v1/products/",
    "/api/v1/warehouses/",
    "/api/v1/stock/",
    "/api/v1/customers/",
    "/api/v1/orders/",
    "/api/v1/backorders/",
    "/api/v1/suppliers/",
    "/api/v1/supplier-products/",
    "/api/v1/purchase-orders/",
    "/api/v1/shortages/",
    "/api/v1/planning/",
    "/api/v1/notifications/",
]


@pytest.mark.django_db
@pytest.mark.parametrize("url", LISTS)
def test_every_list_takes_updated_since_and_returns_updated_at(staff_client, make_product, place, url):
    product = make_product(stock=1)
    place({product.sku: 3})
    since = (timezone.now() - timedelta(days=1)).isoformat()
    response = staff_client.get(url, {"updated_since": since})
    assert response.status_code == 200, response.content
    results = response.json()["results"]
    assert all("updated_at" in row for row in results)
    future = (timezone.now() + timedelta(days=1)).isoformat()
    later = staff_client.get(url, {"updated_since": future}).json()["results"]
    if url in ("/api/v1/shortages/", "/api/v1/planning/"):
        assert len(later) == len(results)  # computed on every call: always "changed"
    else:
        assert later == []


@pytest.mark.django_db
def test_bad_updated_since_is_a_400_naming_it(staff_client):
    response = staff_client.get("/api/v1/products/", {"updated_since": "yesterday"})
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/problem+json")
    assert "updated_since" in response.json()["errors"]


@pytest.mark.django_db
def test_set_based_update_moves_updated_at_and_a_no_op_does_not(is_postgres, make_product, place):
    if not is_postgres:
        pytest.skip("the trigger is PostgreSQL's")
    product = make_product()
    place({product.sku: 2})
    backorder = Backorder.objects.get()
    before = backorder.updated_at
    Backorder.objects.filter(pk=backorder.pk).update(priority="high")  # no save(): the trigger stamps it
    backorder.refresh_from_db()
    assert backorder.updated_at > before
    stamped = backorder.updated_at
    Backorder.objects.filter(pk=backorder.pk).update(priority="high")  # nothing changes
    backorder.refresh_from_db()
    assert backorder.updated_at == stamped
    old = Product.objects.get(pk=product.pk).updated_at
    Product.objects.filter(pk=product.pk).update(name=product.name)
    assert Product.objects.get(pk=product.pk).updated_at == old


@pytest.mark.django_db
def test_a_channel_polls_its_own_orders_only(channel_client, other_channel_client, channel_key, make_product, place):
    product = make_product(stock=5)
    place({product.sku: 1}, channel=channel_key[0])
    since = (timezone.now() - timedelta(hours=1)).isoformat()
    assert len(channel_client.get("/api/v1/orders/", {"updated_since": since}).json()["results"]) == 1
    assert other_channel_client.get("/api/v1/orders/", {"updated_since": since}).json()["results"] == []
