"""The allocation engine's set-based "ready" rows are the rows the Python hook would write."""

import pytest

from backorders.allocation import allocate_product
from backorders.models import BackorderEvent
from inventory.services import stock_adjust
from notifications.models import Notification, NotificationPreference
from notifications.services import _item, _outbox_rows
from orders.models import SalesChannel
from orders.services import CustomerData, LineRequest, order_place

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def _place(product, channel, external_id, quantity):
    return order_place(
        customer=CustomerData(external_id, f"{external_id}@example.com", external_id.title()),
        lines=[LineRequest(product.sku, quantity)],
        channel=channel,
    ).order


@pytest.mark.parametrize("prefers_shop", [False, True])
def test_ready_rows_match_the_python_hook(make_product, prefers_shop):
    channel = SalesChannel.objects.create(
        code="shop", name="Shop", webhook_url="http://127.0.0.1:9/hook", webhook_secret="s"
    )
    product = make_product(stock=0)
    full = _place(product, channel, "ann", 2)
    partial = _place(product, channel, "bob", 5)
    if prefers_shop:
        NotificationPreference.objects.create(customer=full.customer, preferred_channel="webhook")
    stock_adjust(sku=product.sku, warehouse_code="MAIN", quantity=4, reason="found")

    assert allocate_product(product_id=product.pk) == 4

    ready = Notification.objects.filter(event="ready").order_by("channel")
    # Only the backorder that got everything it needs is ready; the partial one is not told yet.
    assert {n.order_id for n in ready} == {full.pk}
    assert [n.channel for n in ready] == (["webhook"] if prefers_shop else ["email", "webhook"])
    event = BackorderEvent.objects.get(backorder__order=full, kind="allocated")
    backorder = event.backorder
    expected = _outbox_rows(
        order=full, backorders=[backorder], event="ready", key=f"ready:o{full.pk}:e{event.pk}",
        items=[_item(backorder, event)], data={},
    )  # fmt: skip
    assert len(expected) == len(ready)
    for want, got in zip(sorted(expected, key=lambda n: n.channel), ready, strict=True):
        assert (got.dedupe_key, got.recipient, got.customer_id, got.backorder_id, got.status) == (
            want.dedupe_key,
            want.recipient,
            want.customer_id,
            want.backorder_id,
            "pending",
        )
        assert {**got.context, "occurred_at": None} == {**want.context, "occurred_at": None}
        assert got.context["items"][0]["quantity"] == 2
    assert not Notification.objects.filter(event="ready", order=partial).exists()
