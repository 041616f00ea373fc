"""Generated input for every staff write endpoint: never a 500, always a problem+json 4xx, nothing written.

Each endpoint's payloads are built from its own input serializer's fields (hypothesis): for each field a mix of
plausible values (existing SKUs, codes and numbers, choice values, boundary numbers, extreme dates) and junk
(wrong types, nested junk, unknown keys, NUL bytes). Plausible values make many payloads pass validation and
reach the services (over-receipt, closed purchase orders, unknown SKUs, dates at the end of the calendar),
which is where a 500 would hide. A 2xx is allowed (the payload was valid); a 4xx must leave every table as it
was. The order intake endpoint has its own generated-input test in tests/orders/test_api.py.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.apps import apps
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework import serializers

from backorders.apis import AcceptSubstituteInput, PriorityInputSerializer, ReallocateInputSerializer
from backorders.models import Backorder
from fulfilment.serializers import OrderCancelInputSerializer, OrderShipInputSerializer
from inventory.serializers import (
    ProductCreateInputSerializer,
    ProductUpdateInputSerializer,
    StockAdjustmentInputSerializer,
    WarehouseCreateInputSerializer,
)
from notifications.apis import ManualUpdateInput, PreferenceInput
from suppliers import services as supplier_services
from suppliers.serializers import (
    PurchaseOrderCreateInputSerializer,
    PurchaseOrderReviseInputSerializer,
    ReasonInputSerializer,
    ReceiveInputSerializer,
    SupplierInputSerializer,
    SupplierProductInputSerializer,
)
from tests.suppliers.factories import SupplierFactory, SupplierProductFactory

API = "/api/v1"
WRITTEN_APPS = ("inventory", "orders", "backorders", "suppliers", "notifications")

junk_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
    | st.sampled_from(["", " ", "\x00", "A-1\x00", "x" * 600, "ÿ"])
)
junk = st.recursive(
    junk_scalars,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=8,
)
# Plausible values by field name: mostly references that exist, sometimes ones that do not.
REFERENCES = {
    "sku": ["A-1", "B-2", "SUB-1", "A-1", "B-2", "NOPE", "a" * 70],
    "supplier": ["acme", "acme", "acme-2", "nope"],
    "warehouse": ["MAIN", "MAIN", "EAST"],
    "code": ["NEW-1", "acme", "MAIN", "bad code!"],
}
texts = st.sampled_from(["supplier delay", "customer asked", "Units are on their way.", "x" * 301])
day = timezone.localdate()
dates = st.sampled_from([str(day + timedelta(days=n)) for n in (-400, 0, 1, 7, 30, 365)]) | st.sampled_from(
    ["0001-01-01", "9999-12-31", "2026-02-30", "1-1-1", "tomorrow"]
)


def plausible(field, name="") -> st.SearchStrategy:
    """Values that may well pass a field's validation, so the payload reaches the services."""
    if isinstance(field, serializers.ListSerializer):
        return st.lists(valid_looking(type(field.child)), min_size=1, max_size=3)
    if isinstance(field, serializers.Serializer):
        return valid_looking(type(field))
    if isinstance(field, serializers.ChoiceField):
        return st.sampled_from(list(field.choices))
    if isinstance(field, serializers.BooleanField):
        return st.booleans()
    if isinstance(field, serializers.DateField):
        return dates
    if isinstance(field, serializers.IntegerField):
        return st.sampled_from([1, 2, 3, 5, 10, 11, 10**6, 0, -2])
    if isinstance(field, serializers.DecimalField):
        return st.sampled_from(["0", "1.50", "9999999999.99"])
    if isinstance(field, serializers.EmailField):
        return st.sampled_from(["buyer@example.com", "ops@acme.test"])
    if isinstance(field, serializers.CharField):
        return st.sampled_from(REFERENCES[name]) if name in REFERENCES else texts
    return junk


def anything(field, name="") -> st.SearchStrategy:
    """Plausible values, wrong types and nested junk."""
    if isinstance(field, serializers.ListSerializer):
        return st.lists(payloads(type(field.child)), max_size=3) | junk
    if isinstance(field, serializers.Serializer):
        return payloads(type(field)) | junk
    extra = {
        serializers.ChoiceField: st.just("bogus"),
        serializers.BooleanField: st.sampled_from(["true", "no", 2]),
        serializers.IntegerField: st.sampled_from([0, -1, 10**9, 2**31, 2**63]),
        serializers.DecimalField: st.sampled_from(["-1", "1e9", "NaN", "0.001"]),
        serializers.CharField: st.text(max_size=12),
    }
    for kind, values in extra.items():
        if isinstance(field, kind):
            return plausible(field, name) | values | junk
    return plausible(field, name) | junk


def valid_looking(serializer_class) -> st.SearchStrategy:
    """Every required field and some optional ones, each with a plausible value."""
    fields = serializer_class().fields
    return st.fixed_dictionaries(
        {name: plausible(f, name) for name, f in fields.items() if f.required},
        optional={name: plausible(f, name) for name, f in fields.items() if not f.required},
    )


def payloads(serializer_class) -> st.SearchStrategy:
    fields = serializer_class().fields
    junky = st.fixed_dictionaries(
        {}, optional={**{name: anything(f, name) for name, f in fields.items()}, "unexpected": junk}
    )
    return valid_looking(serializer_class) | junky


def snapshot() -> dict:
    """Every row of every table the API can write (the test data is small)."""
    state = {}
    for app in WRITTEN_APPS:
        for model in apps.get_app_config(app).get_models():
            state[model._meta.label] = list(model.objects.order_by("pk").values_list())
    return state


@pytest.fixture
def world(make_product, place, warehouse):
    """A little of everything: products in and out of stock, a substitute, a supplier with a sent purchase
    order, waiting backorders (one with units reserved), and an open order."""
    a = make_product(sku="A-1", stock=3)
    b = make_product(sku="B-2")
    substitute = make_product(sku="SUB-1", stock=50)
    b.substitutes.add(substitute)
    SupplierFactory(code="acme")
    SupplierProductFactory(supplier__code="acme-2", product=a)
    purchase_order = supplier_services.purchase_order_create(
        supplier_code="acme",
        warehouse_code="MAIN",
        expected_date=day + timedelta(days=7),
        lines=[
            supplier_services.PurchaseOrderLineRequest("A-1", 10),
            supplier_services.PurchaseOrderLineRequest("B-2", 5),
        ],
        send=True,
    )
    first = place({"A-1": 5, "B-2": 2})
    second = place({"A-1": 2})
    return {
        "po": purchase_order.number,
        "order": first.number,
        "backorder": Backorder.objects.filter(order=second).values_list("pk", flat=True).get(),
        "waiting_b": Backorder.objects.filter(order=first, product=b).values_list("pk", flat=True).get(),
        "customer": first.customer.external_id,
    }


ENDPOINTS = {
    "product create": ("post", "/products/", ProductCreateInputSerializer),
    "product update": ("patch", "/products/A-1/", ProductUpdateInputSerializer),
    "warehouse create": ("post", "/warehouses/", WarehouseCreateInputSerializer),
    "stock adjustment": ("post", "/stock/adjustments/", StockAdjustmentInputSerializer),
    "supplier create": ("post", "/suppliers/", SupplierInputSerializer),
    "supplier product": ("post", "/supplier-products/", SupplierProductInputSerializer),
    "purchase order create": ("post", "/purchase-orders/", PurchaseOrderCreateInputSerializer),
    "purchase order revise": ("patch", "/purchase-orders/{po}/", PurchaseOrderReviseInputSerializer),
    "purchase order receive": ("post", "/purchase-orders/{po}/receive/", ReceiveInputSerializer),
    "purchase order cancel": ("post", "/purchase-orders/{po}/cancel/", ReasonInputSerializer),
    "backorder priority": ("post", "/backorders/{backorder}/priority/", PriorityInputSerializer),
    "backorder reallocate": ("post", "/backorders/{backorder}/reallocate/", ReallocateInputSerializer),
    "backorder notify": ("post", "/backorders/{backorder}/notify/", ManualUpdateInput),
    "accept substitute": ("post", "/backorders/{waiting_b}/accept-substitute/", AcceptSubstituteInput),
    "order cancel": ("post", "/orders/{order}/cancel/", OrderCancelInputSerializer),
    "order ship": ("post", "/orders/{order}/ship/", OrderShipInputSerializer),
    "notification preferences": ("put", "/customers/{customer}/notification-preferences/", PreferenceInput),
}


@pytest.mark.parametrize("name", ENDPOINTS)
def test_generated_input_never_500s_and_a_refusal_writes_nothing(name, world, staff_client):
    method, path, serializer_class = ENDPOINTS[name]
    url = API + path.format(**world)

    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(body=payloads(serializer_class) | junk)
    def check(body):
        before = snapshot()
        response = getattr(staff_client, method)(
            url, json.dumps(body, ensure_ascii=False).encode(), content_type="application/json"
        )
        assert response.status_code < 500, response.content
        if response.status_code >= 400:
            assert response["Content-Type"] == "application/problem+json", response.content
            problem = response.json()
            assert {"type", "title", "status", "detail", "code"} <= set(problem), problem
            assert problem["status"] == response.status_code
            assert snapshot() == before, f"{name} refused {body!r} with {problem['code']} but wrote rows"

    check()


# --- reads: generated query strings on every list and page ----------------------------------------------------

QUERY_NAMES = [
    "status", "priority", "eta_basis", "reason", "sku", "customer", "channel", "order", "min_age", "max_age",
    "ordering", "page", "page_size", "search", "backorderable", "warehouse", "days", "service_level", "window_days",
    "reorder_now", "placed_after", "placed_before", "supplier", "event", "q", "tier", "sort", "format", "cursor",
]  # fmt: skip
query_values = st.sampled_from(
    [
        "",
        "-1",
        "0",
        "1",
        "2",
        "50",
        "10000000000000000000000",
        "1e3",
        "0.95",
        "2026-13-01",
        "2026-01-01",
        "true",
        "no",
        "open",
        "critical",
        "gold",
        "A-1",
        "MAIN",
        "acme",
        "-placed_at",
        "eta",
        "value",
        "csv",
        "a%_\\",
        "\x00",
        "A-1\x00",
        "ÿ",
        "x" * 300,
    ]  # fmt: skip
) | st.text(max_size=10)
READS = [
    "/api/v1/products/", "/api/v1/products/A-1/", "/api/v1/warehouses/", "/api/v1/stock/", "/api/v1/orders/",
    "/api/v1/orders/{order}/", "/api/v1/backorders/", "/api/v1/backorders/{backorder}/", "/api/v1/metrics/",
    "/api/v1/suppliers/", "/api/v1/supplier-products/", "/api/v1/purchase-orders/", "/api/v1/purchase-orders/{po}/",
    "/api/v1/shortages/", "/api/v1/planning/", "/api/v1/notifications/",
    "/", "/backorders/", "/shortages/", "/planning/", "/suppliers/", "/products/", "/search/",
]  # fmt: skip


@pytest.mark.parametrize("path", READS)
def test_generated_query_strings_never_500(path, world, staff_client, staff_user):
    url = path.format(**world)
    if not url.startswith("/api/"):
        staff_client.force_login(staff_user)  # the dashboard pages use the session

    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(query=st.lists(st.tuples(st.sampled_from(QUERY_NAMES), query_values), max_size=4))
    def check(query):
        response = staff_client.get(url, query)
        assert response.status_code < 500, (query, response.content[:500])
        if url.startswith("/api/") and response.status_code >= 400:
            assert response["Content-Type"] == "application/problem+json", response.content
            assert {"type", "title", "status", "detail", "code"} <= set(response.json())

    check()
