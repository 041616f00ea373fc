import json

import pytest
from django.core.management import call_command
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backorders.models import Backorder
from inventory.models import Product, StockItem, StockMovement
from orders.models import Customer, Order, OrderLine
from tests.inventory.test_api import assert_problem

pytestmark = pytest.mark.django_db

ORDERS = "/api/v1/orders/"


def body(lines, **extra):
    return {
        "customer": {"external_id": "c-1", "email": "ann@example.com", "name": "Ann"},
        "lines": [{"sku": sku, "quantity": q} for sku, q in lines.items()],
        **extra,
    }


def assert_nothing_written():
    assert not Order.objects.exists()
    assert not OrderLine.objects.exists()
    assert not Backorder.objects.exists()
    assert not StockItem.objects.filter(allocated__gt=0).exists()


# --- placing ----------------------------------------------------------------------------------


def test_place_order_allocates_and_backorders(make_product, channel_client, channel_key):
    channel_key[0].max_priority = "high"  # staff allow this channel to ask for high priority
    channel_key[0].save(update_fields=["max_priority"])
    make_product(sku="A-1", stock=10)
    make_product(sku="B-1", stock=1)
    response = channel_client.post(
        ORDERS,
        body({"A-1": 2, "B-1": 3}, ship_policy="partial", priority="high", requested_date="2030-01-31"),
        format="json",
    )
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["status"] == "backordered"
    assert data["channel"] == "web-shop"
    assert (data["priority"], data["ship_policy"], data["requested_date"]) == ("high", "partial", "2030-01-31")
    assert data["customer"] == {"external_id": "c-1", "email": "ann@example.com", "name": "Ann", "tier": "standard"}
    lines = {line["sku"]: line for line in data["lines"]}
    assert lines["A-1"] == {
        "sku": "A-1",
        "quantity": 2,
        "allocated": 2,
        "backordered": 0,
        "shipped": 0,
        "cancelled": 0,
        "unit_price": "10.00",
        "at_risk": False,
    }
    assert (lines["B-1"]["allocated"], lines["B-1"]["backordered"]) == (1, 2)
    assert lines["B-1"]["at_risk"] is True  # no date yet: cannot promise the requested date
    [backorder] = data["backorders"]
    assert backorder["sku"] == "B-1"
    assert (backorder["status"], backorder["quantity"], backorder["quantity_outstanding"]) == ("open", 2, 2)
    assert (backorder["eta"], backorder["eta_basis"]) == (None, "none")
    order = Order.objects.get(number=data["number"])
    assert order.channel == channel_key[0]
    assert (Customer.objects.get().tier, Customer.objects.get().channel) == ("standard", channel_key[0])


def test_staff_can_place_an_order(make_product, staff_client):
    make_product(sku="A-1", stock=10)
    response = staff_client.post(ORDERS, body({"A-1": 1}), format="json")
    assert response.status_code == 201
    assert response.json()["channel"] is None
    assert response.json()["status"] == "open"


def test_idempotency_key_replay_returns_the_same_order(make_product, channel_client):
    make_product(sku="A-1", stock=10)
    first = channel_client.post(ORDERS, body({"A-1": 2}), format="json", HTTP_IDEMPOTENCY_KEY="k-123")
    again = channel_client.post(ORDERS, body({"A-1": 2}), format="json", HTTP_IDEMPOTENCY_KEY="k-123")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert Order.objects.count() == 1
    assert StockItem.objects.get().allocated == 2

    different = channel_client.post(ORDERS, body({"A-1": 3}), format="json", HTTP_IDEMPOTENCY_KEY="k-123")
    problem = assert_problem(different, 422, "idempotency_key_reused")
    assert problem["details"]["order"] == first.json()["number"]
    assert Order.objects.count() == 1
    assert StockItem.objects.get().allocated == 2


def test_idempotency_keys_are_scoped_per_channel(make_product, channel_client, other_channel_client):
    make_product(sku="A-1", stock=10)
    first = channel_client.post(ORDERS, body({"A-1": 1}), format="json", HTTP_IDEMPOTENCY_KEY="same")
    second = other_channel_client.post(ORDERS, body({"A-1": 1}), format="json", HTTP_IDEMPOTENCY_KEY="same")
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json()["number"] != second.json()["number"]


@pytest.mark.parametrize("key", ["", " ", "x" * 201, "ключ"])
def test_bad_idempotency_key_is_a_400(make_product, channel_client, key):
    make_product(sku="A-1", stock=10)
    response = channel_client.post(ORDERS, body({"A-1": 1}), format="json", HTTP_IDEMPOTENCY_KEY=key)
    assert_problem(response, 400, "validation_error")
    assert_nothing_written()


def test_unknown_sku_is_a_422_and_writes_nothing(make_product, channel_client):
    make_product(sku="A-1", stock=10)
    response = channel_client.post(ORDERS, body({"A-1": 1, "NOPE-9": 1}), format="json")
    problem = assert_problem(response, 422, "unknown_sku")
    assert "NOPE-9" in problem["detail"]
    assert_nothing_written()
    assert not Customer.objects.exists()


def test_duplicate_sku_is_a_422(make_product, channel_client):
    make_product(sku="A-1", stock=10)
    payload = body({"A-1": 1})
    payload["lines"].append({"sku": "A-1", "quantity": 2})
    assert_problem(channel_client.post(ORDERS, payload, format="json"), 422, "duplicate_sku")
    assert_nothing_written()


def test_not_backorderable_is_a_409(make_product, channel_client):
    make_product(sku="A-1", stock=1, backorderable=False)
    assert_problem(channel_client.post(ORDERS, body({"A-1": 2}), format="json"), 409, "not_backorderable")
    assert_nothing_written()


def _with(**changes):
    payload = body({"A-1": 1})
    for key, value in changes.items():
        if value is ...:
            payload.pop(key)
        else:
            payload[key] = value
    return payload


def _customer(**changes):
    customer = {"external_id": "c-1", "email": "ann@example.com", "name": "Ann"}
    customer.update(changes)
    return _with(customer={k: v for k, v in customer.items() if v is not ...})


@pytest.mark.parametrize(
    "payload, field",
    [
        (body({"A-1": 0}), "lines"),
        (body({"A-1": -3}), "lines"),
        (body({"A-1": 100_001}), "lines"),
        (body({"A-1": 2**64}), "lines"),
        (body({"A-1": 1.5}), "lines"),
        (body({"A-1": "2"}) | {"lines": [{"sku": "A-1", "quantity": "two"}]}, "lines"),
        (body({"A-1": True}), "lines"),
        (body({}), "lines"),
        (_with(lines=...), "lines"),
        (_with(lines="A-1"), "lines"),
        (_with(lines=[{"sku": "A-1"}]), "lines"),
        (_with(lines=[{"sku": "A-1", "quantity": 1, "price": 0}]), "lines"),
        (_with(lines=[{"sku": "A\x00", "quantity": 1}]), "lines"),
        (_with(lines=[{"sku": "A" * 65, "quantity": 1}]), "lines"),
        (_with(lines=[{"sku": "A-1", "quantity": 1}] * 201), "lines"),
        (_with(customer=...), "customer"),
        (_with(customer="ann"), "customer"),
        (_customer(email=...), "customer"),
        (_customer(email="not-an-email"), "customer"),
        (_customer(name=...), "customer"),
        (_customer(name=""), "customer"),
        (_customer(name="Ann\x00"), "customer"),
        (_customer(external_id="x" * 101), "customer"),
        (_customer(tier="diamond"), "customer"),
        (_with(ship_policy="whenever"), "ship_policy"),
        (_with(ship_policy=None), "ship_policy"),
        (_with(priority="urgent"), "priority"),
        (_with(requested_date="31/01/2030"), "requested_date"),
        (_with(requested_date="2030-02-30"), "requested_date"),
        (_with(requested_date=20300131), "requested_date"),
        (_with(coupon="FREE"), "coupon"),
    ],
)
def test_bad_order_bodies_are_400_and_write_nothing(make_product, channel_client, payload, field):
    make_product(sku="A-1", stock=10)
    problem = assert_problem(channel_client.post(ORDERS, payload, format="json"), 400, "validation_error")
    assert field in problem["errors"]
    assert_nothing_written()


@pytest.mark.parametrize(
    "raw, content_type, status, code",
    [
        (b'{"customer": ', "application/json", 400, "malformed_request"),
        (b"\xff\xfe", "application/json", 400, "malformed_request"),
        (b'{"lines": [NaN]}', "application/json", 400, "malformed_request"),
        (b"[" * 100_000 + b"]" * 100_000, "application/json", 400, "malformed_request"),
        (
            b'{"customer": {"external_id": "\\ud800", "email": "a@example.com", "name": "A"}, "lines": []}',
            "application/json",
            400,
            "validation_error",
        ),
        (b"[1, 2]", "application/json", 400, "validation_error"),
        (b'"just a string"', "application/json", 400, "validation_error"),
        (b"null", "application/json", 400, "validation_error"),
        (b"customer=1", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
    ],
)
def test_malformed_bodies(make_product, channel_client, raw, content_type, status, code):
    make_product(sku="A-1", stock=10)
    response = channel_client.generic("POST", ORDERS, raw, content_type=content_type)
    assert_problem(response, status, code)
    assert_nothing_written()


json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)
line_like = st.fixed_dictionaries(
    {"sku": st.sampled_from(["A-1", "NOPE", "", "A-1\x00"]) | st.text(max_size=70), "quantity": json_values}
)
order_like = st.fixed_dictionaries(
    {},
    optional={
        "customer": st.fixed_dictionaries(
            {},
            optional={
                "external_id": json_values,
                "email": st.sampled_from(["a@example.com", "bad"]) | json_values,
                "name": json_values,
                "tier": st.sampled_from(["gold", "x"]) | json_values,
            },
        )
        | json_values,
        "lines": st.lists(line_like | json_values, max_size=4) | json_values,
        "ship_policy": st.sampled_from(["partial", "complete", "bogus"]) | json_values,
        "priority": st.sampled_from(["low", "critical", "bogus"]) | json_values,
        "requested_date": st.sampled_from(["2030-01-01", "2030-13-01", "9999-12-31"]) | json_values,
        "extra": json_values,
    },
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payload=order_like | json_values)
def test_generated_junk_never_500s_and_never_writes(make_product, channel_client, payload):
    # Examples share the test's transaction: create the product once. It has no stock and cannot be
    # backordered, so no generated line can ever be placed.
    if not Product.objects.filter(sku="A-1").exists():
        make_product(sku="A-1", stock=0, backorderable=False)
    response = channel_client.post(
        ORDERS, json.dumps(payload, ensure_ascii=False).encode(), content_type="application/json"
    )
    assert response.status_code < 500
    assert 400 <= response.status_code < 500, response.content
    assert response["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert {"type", "title", "status", "detail", "code"} <= set(problem)
    assert problem["status"] == response.status_code
    assert not Order.objects.exists()


# --- listing and reading ------------------------------------------------------------------------


def test_channel_sees_only_its_own_orders(make_product, channel_client, other_channel_client, staff_client):
    make_product(sku="A-1", stock=10)
    mine = channel_client.post(ORDERS, body({"A-1": 1}), format="json").json()["number"]
    theirs = other_channel_client.post(ORDERS, body({"A-1": 1}), format="json").json()["number"]

    assert [o["number"] for o in channel_client.get(ORDERS).json()["results"]] == [mine]
    assert channel_client.get(f"{ORDERS}{mine}/").status_code == 200
    assert_problem(channel_client.get(f"{ORDERS}{theirs}/"), 404, "not_found")
    assert_problem(channel_client.post(f"{ORDERS}{theirs}/cancel/", {}, format="json"), 404, "not_found")
    assert Order.objects.get(number=theirs).status == "open"
    assert {o["number"] for o in staff_client.get(ORDERS).json()["results"]} == {mine, theirs}


def test_order_list_filters_ordering_and_fixed_query_count(
    make_product, place, customer, staff_client, django_assert_max_num_queries
):
    make_product(sku="A-1", stock=5)
    make_product(sku="B-1", stock=100)
    orders = [place({"A-1": 2, "B-1": 1}, customer=customer) for _ in range(4)]  # the 3rd and 4th backorder
    other = place({"B-1": 1})

    with django_assert_max_num_queries(5):
        response = staff_client.get(ORDERS)
    assert response.json()["count"] == 5
    assert [line["sku"] for line in response.json()["results"][-1]["lines"]] == ["A-1", "B-1"]

    def numbers(**params):
        response = staff_client.get(ORDERS, params)
        assert response.status_code == 200, response.content
        return [o["number"] for o in response.json()["results"]]

    assert set(numbers(status="backordered")) == {orders[2].number, orders[3].number}
    assert set(numbers(customer=customer.email.upper())) == {o.number for o in orders}
    assert set(numbers(customer_external_id="c-default")) == {other.number}
    assert numbers(ordering="placed_at")[0] == orders[0].number
    assert numbers(placed_after="2999-01-01") == []
    assert len(numbers(placed_before="2999-01-01", placed_after="2000-01-01")) == 5
    for bad in ({"placed_after": "yesterday"}, {"status": "lost"}, {"ordering": "secret"}, {"customer": "a\x00"}):
        assert_problem(staff_client.get(ORDERS, bad), 400, "validation_error")
    assert_problem(staff_client.get(ORDERS, {"page": 99}), 404, "not_found")


def test_order_detail_has_lines_and_backorders(make_product, place, staff_client):
    make_product(sku="A-1", stock=1)
    order = place({"A-1": 3})
    data = staff_client.get(f"{ORDERS}{order.number}/").json()
    assert data["lines"][0] | {} == {
        "sku": "A-1",
        "quantity": 3,
        "allocated": 1,
        "backordered": 2,
        "shipped": 0,
        "cancelled": 0,
        "unit_price": "10.00",
        "at_risk": False,
    }
    backorder = Backorder.objects.get()
    assert data["backorders"] == [
        {
            "id": backorder.pk,
            "sku": "A-1",
            "status": "open",
            "quantity": 2,
            "quantity_outstanding": 2,
            "eta": None,
            "eta_basis": "none",
            "eta_expected": None,
            "eta_confidence": None,
            "sla_due_at": None,
            "sla_breached": False,
            "alternatives": [],
        }
    ]
    assert_problem(staff_client.get(f"{ORDERS}SO-NOPE/"), 404, "not_found")
    assert_problem(staff_client.get(f"{ORDERS}SO%00X/"), 404, "not_found")


# --- ship and cancel ----------------------------------------------------------------------------


def test_staff_ships_what_is_allocated(make_product, place, staff_client):
    make_product(sku="A-1", stock=3)
    order = place({"A-1": 5})
    response = staff_client.post(f"{ORDERS}{order.number}/ship/", {"tracking_reference": "TRK-1"}, format="json")
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["shipment"]["tracking_reference"] == "TRK-1"
    assert data["shipment"]["lines"] == [{"sku": "A-1", "warehouse": "MAIN", "quantity": 3}]
    assert data["order"]["status"] == "partially_shipped"
    assert data["order"]["lines"][0]["shipped"] == 3
    assert StockMovement.objects.filter(kind="shipment", quantity=-3).count() == 1
    assert_problem(staff_client.post(f"{ORDERS}{order.number}/ship/", {}, format="json"), 409, "nothing_to_ship")


def test_ship_complete_order_waits(make_product, place, staff_client):
    make_product(sku="A-1", stock=3)
    order = place({"A-1": 5}, ship_policy="complete")
    assert_problem(staff_client.post(f"{ORDERS}{order.number}/ship/", {}, format="json"), 409, "order_not_ready")
    assert not StockMovement.objects.filter(kind="shipment").exists()


def test_channel_cannot_ship(make_product, channel_client):
    make_product(sku="A-1", stock=3)
    number = channel_client.post(ORDERS, body({"A-1": 1}), format="json").json()["number"]
    assert_problem(channel_client.post(f"{ORDERS}{number}/ship/", {}, format="json"), 403, "permission_denied")
    assert not StockMovement.objects.filter(kind="shipment").exists()


def test_channel_cancels_some_units_of_its_own_order(make_product, channel_client):
    make_product(sku="A-1", stock=3)
    make_product(sku="B-1", stock=3)
    number = channel_client.post(ORDERS, body({"A-1": 5, "B-1": 2}), format="json").json()["number"]
    response = channel_client.post(
        f"{ORDERS}{number}/cancel/", {"lines": [{"sku": "A-1", "quantity": 3}], "reason": "changed mind"}, format="json"
    )
    assert response.status_code == 200, response.content
    lines = {line["sku"]: line for line in response.json()["lines"]}
    # waiting units go first (2), then one reserved unit returns to the pool
    assert (lines["A-1"]["cancelled"], lines["A-1"]["allocated"], lines["A-1"]["backordered"]) == (3, 2, 0)
    assert lines["B-1"]["cancelled"] == 0
    assert response.json()["backorders"][0]["status"] == "cancelled"


def test_staff_cancels_a_whole_order(make_product, place, staff_client):
    make_product(sku="A-1", stock=3)
    order = place({"A-1": 2})
    response = staff_client.post(f"{ORDERS}{order.number}/cancel/", format="json")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "cancelled"
    assert StockItem.objects.get().allocated == 0
    assert_problem(staff_client.post(f"{ORDERS}{order.number}/cancel/", {}, format="json"), 409, "order_closed")


@pytest.mark.parametrize(
    "payload, status, code",
    [
        ({"lines": [{"sku": "B-9"}]}, 422, "invalid_input"),
        ({"lines": [{"sku": "A-1", "quantity": 9}]}, 422, "invalid_input"),
        ({"lines": [{"sku": "A-1"}, {"sku": "A-1"}]}, 422, "duplicate_sku"),
        ({"lines": [{"sku": "A-1", "quantity": 0}]}, 400, "validation_error"),
        ({"lines": [{"sku": "A-1", "quantity": 2**80}]}, 400, "validation_error"),
        ({"lines": []}, 400, "validation_error"),
        ({"lines": "all"}, 400, "validation_error"),
        ({"reason": "x" * 201}, 400, "validation_error"),
        ({"reason": "a\x00b"}, 400, "validation_error"),
        ({"everything": True}, 400, "validation_error"),
    ],
)
def test_bad_cancel_requests_change_nothing(make_product, place, staff_client, payload, status, code):
    make_product(sku="A-1", stock=3)
    order = place({"A-1": 2})
    assert_problem(staff_client.post(f"{ORDERS}{order.number}/cancel/", payload, format="json"), status, code)
    line = OrderLine.objects.get()
    assert (line.quantity_cancelled, line.quantity_allocated) == (0, 2)
    assert Order.objects.get().status == "open"


# --- authentication -----------------------------------------------------------------------------


def test_anonymous_and_bad_keys_get_401(make_product, anon_client):
    make_product(sku="A-1", stock=3)
    for path in (ORDERS, "/api/v1/backorders/", "/api/v1/orders/SO-1/"):
        response = anon_client.get(path)
        assert_problem(response, 401, "not_authenticated")
        assert response["WWW-Authenticate"] == "Api-Key"
    assert_problem(anon_client.post(ORDERS, body({"A-1": 1}), format="json"), 401, "not_authenticated")
    for header in ("Api-Key nope", "Api-Key oms_abcd_wrong", "Api-Key a b", "Token nope"):
        anon_client.credentials(HTTP_AUTHORIZATION=header)
        assert_problem(anon_client.post(ORDERS, body({"A-1": 1}), format="json"), 401, "authentication_failed")
    assert_nothing_written()


def test_revoked_key_is_refused(make_product, channel_key, channel_client):
    from orders.services import api_key_revoke

    api_key_revoke(api_key=channel_key[0].api_keys.get())
    assert_problem(channel_client.get(ORDERS), 401, "authentication_failed")


def test_non_staff_user_is_forbidden(django_user_model):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(django_user_model.objects.create_user("clerk", password="x"))
    assert_problem(client.get(ORDERS), 403, "permission_denied")


def test_staff_token_and_session_auth(make_product, staff_user, client):
    from rest_framework.test import APIClient

    make_product(sku="A-1", stock=3)
    call_command("drf_create_token", "staff")
    from rest_framework.authtoken.models import Token

    token_client = APIClient()
    token_client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get(user=staff_user).key}")
    assert token_client.get(ORDERS).status_code == 200
    assert token_client.post(ORDERS, body({"A-1": 1}), format="json").status_code == 201

    client.force_login(staff_user)
    assert client.get(ORDERS).status_code == 200
    assert client.get("/api/v1/stock/").status_code == 200


def test_create_api_key_command_prints_a_working_key(make_product, tmp_path):
    from io import StringIO

    make_product(sku="A-1", stock=3)
    out = StringIO()
    call_command("create_api_key", "new-shop", stdout=out, stderr=StringIO())
    key = out.getvalue().strip().splitlines()[-1]
    assert key.startswith("oms_") and " " not in key
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    response = client.post(ORDERS, body({"A-1": 1}), format="json")
    assert response.status_code == 201
    assert response.json()["channel"] == "new-shop"


def test_order_total_beyond_the_column_is_a_422_not_a_500(make_product, staff_client):
    from decimal import Decimal

    make_product(sku="GOLD-1", stock=100_000, unit_price=Decimal("9999999999.99"))
    response = staff_client.post(ORDERS, body({"GOLD-1": 100_000}), format="json")
    assert_problem(response, 422, "invalid_input")
    assert_nothing_written()


def test_an_api_key_records_when_it_was_last_used_at_most_once_a_minute(make_product, channel_client, channel_key):
    from datetime import timedelta

    from django.utils import timezone

    from orders.models import ApiKey

    key = ApiKey.objects.get(channel=channel_key[0])
    assert key.last_used_at is None
    assert channel_client.get("/api/v1/orders/").status_code == 200
    first = ApiKey.objects.get(pk=key.pk).last_used_at
    assert first is not None and timezone.now() - first < timedelta(seconds=30)

    assert channel_client.get("/api/v1/orders/").status_code == 200
    assert ApiKey.objects.get(pk=key.pk).last_used_at == first  # within the minute: not written again

    ApiKey.objects.filter(pk=key.pk).update(last_used_at=first - timedelta(minutes=5))
    assert channel_client.get("/api/v1/orders/").status_code == 200
    assert ApiKey.objects.get(pk=key.pk).last_used_at > first


def test_the_answer_to_a_backordered_order_carries_its_expected_date(make_product, channel_client):
    from datetime import timedelta

    from django.utils import timezone

    from tests.suppliers.factories import PurchaseOrderLineFactory, SupplierProductFactory

    soon = make_product(sku="SOON-1", stock=0)
    later = make_product(sku="LATER-1", stock=0)
    expected = timezone.localdate() + timedelta(days=9)
    PurchaseOrderLineFactory(product=soon, quantity_ordered=50, purchase_order__expected_date=expected)
    SupplierProductFactory(product=later, lead_time_days=30, preferred=True)

    response = channel_client.post(ORDERS, body({"SOON-1": 2, "LATER-1": 1}), format="json")

    assert response.status_code == 201, response.content
    etas = {b["sku"]: (b["eta"], b["eta_basis"]) for b in response.json()["backorders"]}
    assert etas == {
        "SOON-1": (expected.isoformat(), "purchase_order"),
        "LATER-1": ((timezone.localdate() + timedelta(days=30)).isoformat(), "lead_time"),
    }
