from decimal import Decimal

import pytest

from inventory.models import Product, StockItem, StockMovement, Warehouse

pytestmark = pytest.mark.django_db

PROBLEM = "application/problem+json"


def assert_problem(response, status: int, code: str):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == PROBLEM
    body = response.json()
    assert body["status"] == status
    assert body["code"] == code
    assert body["title"] and body["detail"] and body["type"].startswith("https://")
    return body


# --- products ---------------------------------------------------------------------------------


def test_products_list_shows_availability_over_all_warehouses(make_product, channel_client, place):
    from inventory.services import stock_adjust, warehouse_create

    product = make_product(stock=10, sku="TEA-1", unit_price=Decimal("4.50"))
    warehouse_create(code="EAST", name="East")
    stock_adjust(sku="TEA-1", warehouse_code="EAST", quantity=5, reason="count")
    place({"TEA-1": 3})
    make_product(sku="ZERO-1")

    response = channel_client.get("/api/v1/products/")

    assert response.status_code == 200
    rows = {row["sku"]: row for row in response.json()["results"]}
    assert rows["TEA-1"].pop("updated_at")
    assert rows["TEA-1"] == {
        "sku": "TEA-1",
        "name": product.name,
        "unit_price": "4.50",
        "status": "active",
        "backorderable": True,
        "tracking": "none",
        "min_shelf_life_days": 0,
        "available": 12,
        "on_hand": 15,
    }
    assert rows["ZERO-1"]["available"] == 0


def test_products_list_filters_and_detail(make_product, channel_client):
    make_product(sku="A-1", status="discontinued")
    make_product(sku="B-1")
    response = channel_client.get("/api/v1/products/", {"status": "discontinued"})
    assert [row["sku"] for row in response.json()["results"]] == ["A-1"]
    response = channel_client.get("/api/v1/products/", {"backorderable": "true", "search": "b-"})
    assert [row["sku"] for row in response.json()["results"]] == ["B-1"]
    for bad in ({"backorderable": "maybe"}, {"status": "gone"}, {"search": "x\x00"}):
        assert_problem(channel_client.get("/api/v1/products/", bad), 400, "validation_error")
    response = channel_client.get("/api/v1/products/B-1/")
    assert response.status_code == 200
    assert response.json()["sku"] == "B-1"
    assert_problem(channel_client.get("/api/v1/products/NOPE/"), 404, "not_found")
    assert_problem(channel_client.get("/api/v1/products/BAD%00SKU/"), 404, "not_found")


def test_products_list_query_count_is_fixed(make_product, staff_client, django_assert_max_num_queries):
    for _ in range(15):
        make_product(stock=3)
    with django_assert_max_num_queries(3):
        response = staff_client.get("/api/v1/products/")
    assert response.json()["count"] == 15


def test_staff_creates_and_updates_a_product(staff_client):
    response = staff_client.post(
        "/api/v1/products/",
        {"sku": "NEW-1", "name": "New", "unit_price": "12.30", "backorderable": False},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json().pop("updated_at")
    assert {k: v for k, v in response.json().items() if k != "updated_at"} == {
        "sku": "NEW-1",
        "name": "New",
        "unit_price": "12.30",
        "status": "active",
        "backorderable": False,
        "tracking": "none",
        "min_shelf_life_days": 0,
        "available": 0,
        "on_hand": 0,
    }
    response = staff_client.patch(
        "/api/v1/products/NEW-1/", {"status": "discontinued", "name": "Renamed"}, format="json"
    )
    assert response.status_code == 200, response.content
    product = Product.objects.get(sku="NEW-1")
    assert (product.status, product.name, product.unit_price) == ("discontinued", "Renamed", Decimal("12.30"))


def test_discontinuing_through_the_api_cancels_waiting_backorders(make_product, place, staff_client):
    from backorders.models import Backorder

    make_product(stock=1, sku="GONE-1")
    place({"GONE-1": 3})
    assert Backorder.objects.get().status == "open"
    response = staff_client.patch("/api/v1/products/GONE-1/", {"status": "discontinued"}, format="json")
    assert response.status_code == 200
    assert Backorder.objects.get().status == "cancelled"


@pytest.mark.parametrize(
    "body, field",
    [
        ({"sku": "X-1", "name": "X"}, "unit_price"),
        ({"sku": "X-1", "name": "X", "unit_price": "-1"}, "unit_price"),
        ({"sku": "X-1", "name": "X", "unit_price": "NaN"}, "unit_price"),
        ({"sku": "X-1", "name": "X", "unit_price": "1e30"}, "unit_price"),
        ({"sku": "X-1", "name": "X", "unit_price": "1", "status": "sold"}, "status"),
        ({"sku": "X 1", "name": "X", "unit_price": "1"}, "sku"),
        ({"sku": "X-1", "name": "X\x00", "unit_price": "1"}, "name"),
        ({"sku": "X-1", "name": "X" * 201, "unit_price": "1"}, "name"),
        ({"sku": "X-1", "name": "X", "unit_price": "1", "colour": "red"}, "colour"),
    ],
)
def test_product_create_rejects_bad_input(staff_client, body, field):
    response = staff_client.post("/api/v1/products/", body, format="json")
    problem = assert_problem(response, 400, "validation_error")
    assert field in problem["errors"]
    assert not Product.objects.exists()


def test_duplicate_product_sku_is_a_422(make_product, staff_client):
    make_product(sku="DUP-1")
    response = staff_client.post("/api/v1/products/", {"sku": "DUP-1", "name": "x", "unit_price": "1"}, format="json")
    assert_problem(response, 422, "invalid_input")
    assert Product.objects.count() == 1


def test_product_patch_rejects_sku_change_and_bad_values(make_product, staff_client):
    make_product(sku="KEEP-1")
    assert_problem(
        staff_client.patch("/api/v1/products/KEEP-1/", {"sku": "OTHER"}, format="json"), 400, "validation_error"
    )
    assert_problem(
        staff_client.patch("/api/v1/products/KEEP-1/", {"backorderable": "perhaps"}, format="json"),
        400,
        "validation_error",
    )
    assert Product.objects.get().sku == "KEEP-1"


def test_channel_cannot_write_products(channel_client):
    response = channel_client.post("/api/v1/products/", {"sku": "X-1", "name": "X", "unit_price": "1"}, format="json")
    assert_problem(response, 403, "permission_denied")
    assert not Product.objects.exists()


def test_anonymous_gets_401_with_challenge(anon_client):
    response = anon_client.get("/api/v1/products/")
    assert_problem(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"] == "Api-Key"


# --- warehouses and stock -----------------------------------------------------------------------


def test_staff_creates_and_lists_warehouses(staff_client):
    response = staff_client.post("/api/v1/warehouses/", {"code": "NORTH", "name": "North"}, format="json")
    assert response.status_code == 201
    assert response.json().pop("updated_at")
    assert {k: v for k, v in response.json().items() if k != "updated_at"} == {
        "code": "NORTH",
        "name": "North",
        "is_active": True,
        "priority": 100,
    }
    assert_problem(
        staff_client.post("/api/v1/warehouses/", {"code": "NORTH", "name": "Again"}, format="json"),
        422,
        "invalid_input",
    )
    assert_problem(staff_client.post("/api/v1/warehouses/", {"code": ""}, format="json"), 400, "validation_error")
    response = staff_client.get("/api/v1/warehouses/")
    assert [row["code"] for row in response.json()["results"]] == ["NORTH"]
    assert Warehouse.objects.count() == 1


def test_channel_cannot_see_stock_or_warehouses(channel_client):
    assert_problem(channel_client.get("/api/v1/stock/"), 403, "permission_denied")
    assert_problem(channel_client.get("/api/v1/warehouses/"), 403, "permission_denied")
    assert_problem(
        channel_client.post(
            "/api/v1/stock/adjustments/", {"sku": "X", "warehouse": "MAIN", "quantity": 1}, format="json"
        ),
        403,
        "permission_denied",
    )


def test_stock_adjustment_writes_a_ledger_movement(make_product, staff_client, staff_user):
    make_product(sku="ADJ-1", stock=5)
    response = staff_client.post(
        "/api/v1/stock/adjustments/",
        {"sku": "ADJ-1", "warehouse": "MAIN", "quantity": -2, "reason": "broken in aisle 3", "reference": "CC-7"},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["kind"] == "adjustment"
    assert (body["quantity"], body["on_hand"], body["actor"]) == (-2, 3, "staff")
    movement = StockMovement.objects.get(pk=body["id"])
    assert (movement.reason, movement.reference, movement.created_by) == ("broken in aisle 3", "CC-7", staff_user)
    assert StockItem.objects.get().on_hand == 3


@pytest.mark.parametrize(
    "body, status, code",
    [
        ({"sku": "ADJ-1", "warehouse": "MAIN", "quantity": 0, "reason": "x"}, 400, "validation_error"),
        ({"sku": "ADJ-1", "warehouse": "MAIN", "quantity": 2**70, "reason": "x"}, 400, "validation_error"),
        ({"sku": "ADJ-1", "warehouse": "MAIN", "quantity": "lots", "reason": "x"}, 400, "validation_error"),
        ({"sku": "ADJ-1", "warehouse": "MAIN", "quantity": 1}, 400, "validation_error"),
        ({"sku": "ADJ-1", "warehouse": "MAIN", "quantity": 1, "reason": "   "}, 400, "validation_error"),
        ({"sku": "NOPE", "warehouse": "MAIN", "quantity": 1, "reason": "x"}, 422, "unknown_sku"),
        ({"sku": "ADJ-1", "warehouse": "NOPE", "quantity": 1, "reason": "x"}, 422, "unknown_warehouse"),
        ({"sku": "ADJ-1", "warehouse": "MAIN", "quantity": -6, "reason": "x"}, 409, "insufficient_stock"),
        ({"sku": "ADJ\x00", "warehouse": "MAIN", "quantity": 1, "reason": "x"}, 400, "validation_error"),
    ],
)
def test_stock_adjustment_rejects_bad_input_and_writes_nothing(make_product, staff_client, body, status, code):
    make_product(sku="ADJ-1", stock=5)
    before = StockMovement.objects.count()
    response = staff_client.post("/api/v1/stock/adjustments/", body, format="json")
    assert_problem(response, status, code)
    assert StockMovement.objects.count() == before
    assert StockItem.objects.get().on_hand == 5


def test_stock_list_filters_by_sku_and_warehouse(make_product, place, staff_client, django_assert_max_num_queries):
    from inventory.services import stock_adjust, warehouse_create

    make_product(sku="S-1", stock=10)
    make_product(sku="S-2", stock=4)
    warehouse_create(code="EAST", name="East")
    stock_adjust(sku="S-1", warehouse_code="EAST", quantity=7, reason="count")
    place({"S-1": 6})

    with django_assert_max_num_queries(3):
        response = staff_client.get("/api/v1/stock/")
    assert response.json()["count"] == 3
    response = staff_client.get("/api/v1/stock/", {"sku": "S-1", "warehouse": "MAIN"})
    [row] = response.json()["results"]
    assert row.pop("updated_at")
    assert row == {"sku": "S-1", "warehouse": "MAIN", "on_hand": 10, "allocated": 6, "available": 4}
    response = staff_client.get("/api/v1/stock/", {"warehouse": "EAST"})
    assert [row["sku"] for row in response.json()["results"]] == ["S-1"]
