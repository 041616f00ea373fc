"""Staff send a free-text update from the admin: an intermediate form, then the outbox rows."""

import pytest

from backorders.models import BackorderEvent
from notifications.models import Notification

pytestmark = pytest.mark.django_db

URL = "/admin/backorders/backorder/"


def test_admin_sends_a_manual_update(admin_client, make_product, place):
    product = make_product(stock=0)
    backorder = place({product.sku: 2}).backorders.get()
    form = admin_client.post(URL, {"action": "send_update_selected", "_selected_action": [backorder.pk]})
    assert form.status_code == 200
    assert b"Note to the customer" in form.content

    empty = admin_client.post(
        URL, {"action": "send_update_selected", "_selected_action": [backorder.pk], "apply": "1", "note": ""}
    )
    assert empty.status_code == 200  # the form again, with its error
    assert not Notification.objects.filter(event="manual_update").exists()

    sent = admin_client.post(
        URL,
        {
            "action": "send_update_selected",
            "_selected_action": [backorder.pk],
            "apply": "1",
            "note": "Your desk ships from our second warehouse on Friday.",
        },
    )
    assert sent.status_code == 302
    notification = Notification.objects.get(event="manual_update", channel="email")
    assert notification.context["data"]["note"] == "Your desk ships from our second warehouse on Friday."
    event = BackorderEvent.objects.get(backorder=backorder, kind="note")
    assert event.actor == "admin"
