"""core.sql.fetch_together: several reads in one round trip give exactly the rows each read gives on its own."""

from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import F, Sum
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core.sql import fetch_together
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


def test_prepared_reads_give_the_rows_of_reads_built_anew(make_product):
    """fetch_together_prepared builds and compiles a shape once; later calls with other values give exactly what
    building the reads with those values gives."""
    from decimal import Decimal

    from core.sql import _PREPARED, fetch_together_prepared

    products = [make_product(stock=s, unit_price=Decimal(p)) for s, p in ((3, "5.00"), (0, "7.50"), (8, "9.99"))]
    now = timezone.now()

    def build(*, ids, price, since):
        return [
            Product.objects.filter(pk__in=ids, unit_price__gte=price, created_at__gte=since).values_list("sku"),
            StockItem.objects.filter(product_id__in=ids, on_hand__gt=0).values_list("product_id", "on_hand"),
        ]

    cases = [
        ([products[0].pk, products[1].pk], Decimal("1"), now - timedelta(days=1)),
        ([products[1].pk, products[2].pk], Decimal("6"), now - timedelta(days=1)),
        ([products[2].pk, products[0].pk], Decimal("9"), now + timedelta(days=1)),
        ([products[0].pk], Decimal("5.00"), now - timedelta(days=1)),
    ]
    for ids, price, since in cases:
        expected = [list(read) for read in build(ids=ids, price=price, since=since)]
        with CaptureQueriesContext(connection) as captured:
            assert fetch_together_prepared("test", build, ids=ids, price=price, since=since) == expected
        assert len(captured) == 1
    # The two shapes (two ids, one id) were kept as statements.
    assert all(isinstance(_PREPARED[("test", (1, None, None))], tuple) for _ in [0])
    assert isinstance(_PREPARED[("test", (2, None, None))], tuple)


def test_a_shape_with_a_moment_computed_while_building_is_never_kept(make_product):
    """A date or time no input carries (today, now − 14 days) would go stale in a kept statement: such a shape is
    built anew on every call."""
    from core.sql import _PREPARED, fetch_together_prepared

    product = make_product(stock=1)

    def build(*, ids):
        return [Product.objects.filter(pk__in=ids, created_at__lte=timezone.now()).values_list("sku")]

    for _ in range(4):
        assert fetch_together_prepared("moment", build, ids=[product.pk]) == [[(product.sku,)]]
    assert not isinstance(_PREPARED[("moment", (1,))], tuple)
