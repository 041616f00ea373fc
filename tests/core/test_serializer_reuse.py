"""core.serializer_reuse gives exactly what a new serializer instance gives: the same output, the same errors."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework import serializers

from core.serializer_reuse import serialized, validated
from fulfilment.serializers import OrderCreateInputSerializer, OrderPlacedOutputSerializer
from orders.selectors import order_list

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 10**7) | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
line = st.fixed_dictionaries(
    {
        "sku": st.sampled_from(["A-1", "B-2", "", "x" * 70]) | json_values,
        "quantity": st.integers(-1, 10**6) | json_values,
    }
)
body = st.fixed_dictionaries(
    {
        "customer": st.fixed_dictionaries(
            {"external_id": st.text(max_size=5), "email": st.sampled_from(["a@example.com", "bad"]), "name": st.text()}
        )
        | json_values,
        "lines": st.lists(line, max_size=3) | json_values,
    },
    optional={
        "ship_policy": st.sampled_from(["partial", "complete", "nope"]),
        "priority": st.sampled_from(["normal", "high", "x"]),
        "requested_date": st.sampled_from(["2031-01-01", "soon", None]),
        "backorder_consent": st.sampled_from(["accept", "decline", 3]),
        "surprise": json_values,
    },
)


def _fresh(data):
    serializer = OrderCreateInputSerializer(data=data)
    if serializer.is_valid():
        return ("ok", serializer.validated_data)
    return ("error", serializer.errors)


def _reused(data):
    try:
        return ("ok", validated(OrderCreateInputSerializer, data))
    except serializers.ValidationError as exc:
        return ("error", exc.detail)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=body | json_values)
def test_validation_is_the_same_as_a_new_instance(data):
    fresh, reused = _fresh(data), _reused(data)
    assert fresh[0] == reused[0]
    assert fresh[1] == reused[1]


@pytest.mark.django_db
def test_output_is_the_same_as_a_new_instance_order_after_order(make_product, place, customer):
    in_stock, short = make_product(stock=10), make_product(stock=1)
    orders = [
        place({in_stock.sku: 2}, customer=customer),
        place({in_stock.sku: 1, short.sku: 3}, customer=customer),
        place({short.sku: 2}, customer=customer, ship_policy="complete"),
    ]
    for order in [*orders, *reversed(orders)]:
        order = order_list().get(pk=order.pk)
        assert serialized(OrderPlacedOutputSerializer, order) == OrderPlacedOutputSerializer(order).data


def test_a_changed_setting_rebuilds_the_fields(settings):
    ok = {
        "customer": {"external_id": "c", "email": "a@example.com", "name": "C"},
        "lines": [{"sku": "A", "quantity": 3}],
    }
    assert validated(OrderCreateInputSerializer, ok)["lines"][0]["quantity"] == 3
    settings.OMS = {**settings.OMS, "MAX_LINE_QUANTITY": 2}
    with pytest.raises(serializers.ValidationError):
        validated(OrderCreateInputSerializer, ok)
