"""The order returned by POST /api/v1/orders/ (rendered from memory) is the order GET returns."""

import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("stock", [10, 1, 0])
def test_post_response_equals_the_stored_order(staff_client, make_product, stock):
    shelf = make_product(stock=stock, sku="SHELF")
    lamp = make_product(stock=5, sku="LAMP")
    shelf.substitutes.add(make_product(stock=8, sku="SHELF-XL"))
    body = {
        "customer": {"external_id": "c-42", "email": "c42@example.com", "name": "C 42"},
        "lines": [{"sku": "SHELF", "quantity": 3}, {"sku": lamp.sku, "quantity": 1}],
        "ship_policy": "partial",
    }
    created = staff_client.post("/api/v1/orders/", body, format="json")
    assert created.status_code == 201, created.content
    stored = staff_client.get(f"/api/v1/orders/{created.json()['number']}/")
    placed = created.json()
    assert placed.pop("dropped") == []  # only the POST answer says what was dropped (ship_available)
    assert placed == stored.json()
    assert [b["sku"] for b in created.json()["backorders"]] == ([] if stock >= 3 else [shelf.sku])
