"""fulfilment.serializers.order_create_input_fast: the everyday order body checked without DRF's machinery.

It may only ever answer what OrderCreateInputSerializer answers (the same validated data) or stand aside (None):
never accept a body the serializer refuses, never change a value. Generated bodies close to valid ones, with the
edges the serializer cares about (whitespace to trim, lengths, control and bidi characters, types, choices)."""

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from rest_framework import serializers

from core.serializer_reuse import validated
from fulfilment.serializers import OrderCreateInputSerializer, order_create_input_fast

plain = st.text(st.characters(categories=["L", "N", "P", "S"]), min_size=1, max_size=12)
edgy = st.sampled_from(["A", " A", "A ", "", "x" * 64, "x" * 65, "x" * 100, "x" * 101, "x" * 200, "x" * 201, "é",
                        "a\x00", "a\u202eb", "a\nb", "\ud800", "a\u00a0b", "Zoë O'Brien", "a b"])  # fmt: skip
text = st.one_of(plain, plain, edgy, st.text(max_size=8))
emails = st.sampled_from(["a@example.com", "A.B+c@sub.example.org", "bad", "a@b", " a@example.com", "a@example.com ",
                          "a" * 250 + "@x.io", "ü@example.com", "a@@example.com", "zoë@exämple.com"])  # fmt: skip
anything = st.none() | st.booleans() | st.integers(-3, 10**6) | st.floats(allow_nan=False) | st.text(max_size=5)
quantities = st.one_of(st.integers(1, 50), st.integers(1, 50), st.integers(-2, 100_002),
                       st.sampled_from([True, 2.0, "2", None, 100_000, 100_001]))  # fmt: skip
line = st.one_of(
    st.fixed_dictionaries({"sku": text, "quantity": quantities}),
    st.fixed_dictionaries({"sku": text | anything, "quantity": quantities}, optional={"note": anything}),
)
customer = st.one_of(
    st.fixed_dictionaries({"external_id": text, "email": emails, "name": text}),
    st.fixed_dictionaries(
        {"external_id": text | anything, "email": emails | anything, "name": text | anything},
        optional={"tier": st.sampled_from(["gold", "standard", "x"]), "extra": anything},
    ),
)
body = st.fixed_dictionaries(
    {"customer": customer, "lines": st.lists(line, min_size=1, max_size=3)},
    optional={
        "ship_policy": st.sampled_from(["partial", "complete", "partial", "nope", None, 1]),
        "priority": st.sampled_from(["normal", "high", "critical", "low", "x", None]),
        "requested_date": st.sampled_from(["2031-01-01", "soon", None]),
        "backorder_consent": st.sampled_from(["accept", "ship_available", "decline", "x", 3]),
        "allow_split": st.sampled_from([True, False, "false", 0, None]),
    },
) | st.fixed_dictionaries({"customer": customer | anything, "lines": st.lists(line) | anything},
                          optional={"surprise": anything})  # fmt: skip


def _serializer(data):
    try:
        return validated(OrderCreateInputSerializer, data)
    except serializers.ValidationError:
        return None


@settings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=body | anything)
def test_it_answers_what_the_serializer_answers_or_stands_aside(data):
    fast = order_create_input_fast(data)
    event("checked by it" if fast is not None else "left to the serializer")
    if fast is not None:
        assert fast == _serializer(data)


def test_the_everyday_body_is_checked_by_it():
    everyday = {
        "customer": {"external_id": "shop-4411", "email": "zoe@example.com", "name": "Zoë O'Brien"},
        "lines": [{"sku": "HOT-01", "quantity": 2}, {"sku": "HOT-02", "quantity": 1}],
        "ship_policy": "complete",
        "priority": "high",
        "allow_split": False,
    }
    assert order_create_input_fast(everyday) == _serializer(everyday)
    assert order_create_input_fast({**everyday, "requested_date": "2031-01-01"}) is None  # dates: the serializer
    assert order_create_input_fast({**everyday, "lines": [{"sku": "A", "quantity": 100_001}]}) is None
