"""Staff actions on a backorder over the API: priority override and reallocation."""

from __future__ import annotations

import pytest

from backorders.allocation import backorders_allocate
from backorders.models import Backorder, BackorderEvent
from inventory.services import stock_adjust


def _problem(response, status, code):
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/problem+json")
    assert response.json()["code"] == code


@pytest.fixture
def two(make_product, place, warehouse):
    product = make_product()
    first = Backorder.objects.get(order=place({product.sku: 2}))
    second = Backorder.objects.get(order=place({product.sku: 2}))
    return product, first, second


def test_priority_override(staff_client, two):
    _, first, second = two
    url = f"/api/v1/backorders/{second.pk}/priority/"
    response = staff_client.post(url, {"priority": "critical", "reason": "hospital"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["priority"] == "critical" and response.json()["queue_position"] == 1
    events = BackorderEvent.objects.filter(backorder=second, kind="priority_changed")
    assert [(e.actor, e.data["reason"]) for e in events] == [("staff", "hospital")]
    for body, status, code in [
        ({"priority": "urgent", "reason": "x"}, 400, "validation_error"),
        ({"priority": "low"}, 400, "validation_error"),
        ({"priority": "low", "reason": "x" * 301}, 400, "validation_error"),
        ({"priority": "low", "reason": "x", "extra": 1}, 400, "validation_error"),
    ]:
        _problem(staff_client.post(url, body, format="json"), status, code)
    _problem(
        staff_client.post("/api/v1/backorders/999999/priority/", {"priority": "low", "reason": "x"}, format="json"),
        404,
        "not_found",
    )
    second.refresh_from_db()
    assert second.priority == "critical" and events.count() == 1


def test_reallocate(staff_client, two, warehouse):
    product, first, second = two
    stock_adjust(sku=product.sku, warehouse_code=warehouse.code, quantity=2, reason="found")
    backorders_allocate(product_id=product.pk)
    url = f"/api/v1/backorders/{second.pk}/reallocate/"
    _problem(staff_client.post(url, {}, format="json"), 409, "nothing_to_reallocate")  # the other one is ahead
    Backorder.objects.filter(pk=second.pk).update(priority="critical", priority_rank=3)
    response = staff_client.post(url, {"reason": "hospital"}, format="json")
    assert response.status_code == 200, response.content
    assert (response.json()["moved"], response.json()["quantity_allocated"]) == (2, 2)
    first.refresh_from_db()
    assert first.quantity_allocated == 0 and first.status == "open"
    _problem(staff_client.post(url, {"quantity": 0}, format="json"), 400, "validation_error")


def test_actions_are_staff_only(channel_client, two):
    _, first, _ = two
    for action in ("priority", "reallocate"):
        response = channel_client.post(
            f"/api/v1/backorders/{first.pk}/{action}/", {"priority": "critical", "reason": "x"}, format="json"
        )
        _problem(response, 403, "permission_denied")
    first.refresh_from_db()
    assert first.priority == "normal"
