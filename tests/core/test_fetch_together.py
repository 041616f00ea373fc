"""core.sql.fetch_together: several reads in one round trip give exactly the rows each read gives on its own."""

from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import F, Sum
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core.sql import fetch_together, instances_read
from inventory.models import Product, StockItem
from notifications.models import WebhookEndpoint
from suppliers.models import PurchaseOrderLine
from tests.notifications.factories import WebhookEndpointFactory
from tests.suppliers.factories import PurchaseOrderLineFactory

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


def test_rows_typed_and_ordered_as_each_queryset_gives_them(make_product):
    products = [make_product(stock=s) for s in (0, 4, 9)]
    PurchaseOrderLineFactory(product=products[0], quantity_received=3)
    PurchaseOrderLineFactory(product=products[1], expected_date=timezone.localdate() + timedelta(days=3))
    WebhookEndpointFactory(events=["ready", "shipped"], is_active=False)
    reads = [
        # dates, ids, a relation's column, ordering
        PurchaseOrderLine.objects.order_by("-expected_date", "id").values_list(
            "pk", "product_id", "purchase_order__supplier_id", "expected_date", "quantity_ordered", "quantity_received"
        ),
        # an annotation named before a field (the SQL selects fields first), grouped
        StockItem.objects.order_by()
        .values("product_id")
        .annotate(units=Sum(F("on_hand") - F("allocated")))
        .values_list("units", "product_id"),
        # decimals, booleans, datetimes, flat
        Product.objects.order_by("sku").values_list("unit_price", "backorderable", "created_at", "sku"),
        Product.objects.order_by("-id").values_list("sku", flat=True),
        # JSON, and a read with no rows
        WebhookEndpoint.objects.values_list("events", "is_active", "previous_secret_expires_at"),
        Product.objects.filter(sku="none").values_list("pk", "sku"),
    ]
    expected = [list(read) for read in reads]
    with CaptureQueriesContext(connection) as captured:
        together = fetch_together([*reads, ("SELECT 1, NULL, 'x'", [], 3)])
    assert len(captured) == 1
    assert together[:-1] == expected
    assert together[-1] == [("1", None, "x")]


def test_instances_read_builds_the_instances_as_loaded():
    endpoint = WebhookEndpointFactory(events=["ready"])
    read, build = instances_read(WebhookEndpoint.objects.filter(pk=endpoint.pk))
    [[loaded]] = [build(rows) for rows in fetch_together([read])]
    fresh = WebhookEndpoint.objects.get(pk=endpoint.pk)
    assert [getattr(loaded, f.attname) for f in WebhookEndpoint._meta.concrete_fields] == [
        getattr(fresh, f.attname) for f in WebhookEndpoint._meta.concrete_fields
    ]
    assert not loaded._state.adding
