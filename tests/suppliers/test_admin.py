"""The purchase-order admin: the receive form and actions go through the services."""

from __future__ import annotations

import pytest
from django.test import Client

from suppliers.models import PurchaseOrder, Receipt
from tests.suppliers.factories import PurchaseOrderLineFactory


@pytest.fixture
def admin_client_(django_user_model):
    user = django_user_model.objects.create_superuser("boss", "boss@example.com", "pw")
    client = Client()
    client.force_login(user)
    return client


def test_receive_form_partial_and_over_receipt(admin_client_, make_product):
    line = PurchaseOrderLineFactory(product=make_product(), quantity_ordered=5)
    url = f"/admin/suppliers/purchaseorder/{line.purchase_order_id}/receive/"
    assert admin_client_.get(url).status_code == 200
    response = admin_client_.post(url, {f"line_{line.pk}": 9})
    assert response.status_code == 200 and b"Cannot receive more" in response.content
    assert Receipt.objects.count() == 0
    response = admin_client_.post(url, {f"line_{line.pk}": 2})
    assert response.status_code == 302
    line.refresh_from_db()
    assert line.quantity_received == 2
    assert line.purchase_order.__class__.objects.get(pk=line.purchase_order_id).status == "partially_received"


def test_receive_all_and_cancel_actions(admin_client_, make_product):
    line = PurchaseOrderLineFactory(product=make_product(), quantity_ordered=4)
    other = PurchaseOrderLineFactory(product=make_product(), quantity_ordered=4).purchase_order
    changelist = "/admin/suppliers/purchaseorder/"
    admin_client_.post(changelist, {"action": "receive_all_selected", "_selected_action": [line.purchase_order_id]})
    admin_client_.post(changelist, {"action": "cancel_selected", "_selected_action": [other.pk]})
    statuses = dict(PurchaseOrder.objects.values_list("pk", "status"))
    assert statuses == {line.purchase_order_id: "received", other.pk: "cancelled"}
    assert admin_client_.get(changelist).status_code == 200
