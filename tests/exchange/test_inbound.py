"""Signed inbound events: signature, stale timestamps, replay and dedupe by event id, and what each event does."""

import json
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from exchange.inbound import inbound_signature, inbound_source_create
from exchange.models import InboundEvent
from inventory.models import StockItem, StockMovement
from suppliers.models import ExpectedDateRevision, PurchaseOrder
from suppliers.services import PurchaseOrderLineRequest, purchase_order_create, supplier_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def purchase_order(make_product, warehouse):
    make_product(sku="IN-1")
    make_product(sku="IN-2")
    supplier_create(code="acme", name="Acme")
    return purchase_order_create(
        supplier_code="acme",
        warehouse_code="MAIN",
        expected_date=timezone.localdate() + timedelta(days=10),
        lines=[PurchaseOrderLineRequest("IN-1", 10), PurchaseOrderLineRequest("IN-2", 4)],
        number="PO-IN-1",
    )


@pytest.fixture
def erp():
    return inbound_source_create(code="erp", name="The ERP")


def send(client, source_secret, event, *, source="erp", timestamp=None, signature=None):
    body = json.dumps(event).encode()
    stamp = str(int(timestamp if timestamp is not None else time.time()))
    headers = {
        "HTTP_X_OMS_TIMESTAMP": stamp,
        "HTTP_X_OMS_SIGNATURE": signature or inbound_signature(source_secret, stamp, body),
    }
    return client.post(f"/api/v1/inbound/{source}/", body, content_type="application/json", **headers)


def test_bad_signature_stale_timestamp_and_unknown_source_are_401(anon_client, erp, purchase_order):
    _, secret = erp
    event = {"id": "e1", "type": "purchase_order.confirmed", "data": {"number": "PO-IN-1"}}
    response = send(anon_client, "wrong-secret", event)
    assert response.status_code == 401 and response.json()["code"] == "invalid_signature"
    response = send(anon_client, secret, event, timestamp=time.time() - 3600)
    assert response.status_code == 401 and response.json()["code"] == "stale_timestamp"
    assert send(anon_client, secret, event, source="nobody").status_code == 401
    assert anon_client.post("/api/v1/inbound/erp/", event, format="json").status_code == 401
    assert not InboundEvent.objects.exists()
    assert PurchaseOrder.objects.get().confirmed_at is None


def test_confirmation_then_replay_changes_nothing(anon_client, erp, purchase_order):
    _, secret = erp
    later = (timezone.localdate() + timedelta(days=12)).isoformat()
    event = {
        "id": "evt-1",
        "type": "purchase_order.confirmed",
        "data": {"number": "PO-IN-1", "lines": [{"sku": "IN-2", "expected_date": later}]},
    }
    first = send(anon_client, secret, event)
    assert first.status_code == 200, first.content
    assert first.json()["duplicate"] is False
    po = PurchaseOrder.objects.get()
    assert po.status == "sent" and po.confirmed_at is not None
    assert ExpectedDateRevision.objects.count() == 1
    replay = send(anon_client, secret, event)
    assert replay.status_code == 200 and replay.json()["duplicate"] is True
    assert replay.json()["result"] == first.json()["result"]
    assert ExpectedDateRevision.objects.count() == 1 and InboundEvent.objects.count() == 1


def test_date_changed_goes_through_the_revision_path(anon_client, erp, purchase_order):
    _, secret = erp
    new = (timezone.localdate() + timedelta(days=20)).isoformat()
    event = {
        "id": "evt-2",
        "type": "purchase_order.date_changed",
        "data": {"number": "PO-IN-1", "expected_date": new, "reason": "factory closed"},
    }
    assert send(anon_client, secret, event).status_code == 200
    assert PurchaseOrder.objects.get().expected_date.isoformat() == new
    assert ExpectedDateRevision.objects.filter(reason__contains="factory closed").count() == 2
    past = {
        "id": "evt-3",
        "type": "purchase_order.date_changed",
        "data": {"number": "PO-IN-1", "expected_date": "2000-01-01"},
    }
    response = send(anon_client, secret, past)
    assert response.status_code == 422 and response.json()["code"] == "date_out_of_range"
    assert not InboundEvent.objects.filter(event_id="evt-3").exists()  # refused: not kept, may be sent again


def test_shipment_notice_dates_the_supply(anon_client, erp, purchase_order):
    _, secret = erp
    arrival = (timezone.localdate() + timedelta(days=5)).isoformat()
    event = {
        "id": "asn-1",
        "type": "shipment_notice",
        "data": {
            "number": "PO-IN-1",
            "arrival_date": arrival,
            "lines": [{"sku": "IN-1", "quantity": 10}, {"sku": "IN-2", "quantity": 1}],
        },
    }
    response = send(anon_client, secret, event)
    assert response.status_code == 200, response.content
    lines = {
        line.product.sku: line.expected_date.isoformat() for line in purchase_order.lines.select_related("product")
    }
    assert lines["IN-1"] == arrival  # covered whole: arrives then
    assert lines["IN-2"] == purchase_order.expected_date.isoformat()  # in part: the rest is not promised earlier
    too_many = {
        "id": "asn-2",
        "type": "shipment_notice",
        "data": {"number": "PO-IN-1", "arrival_date": arrival, "lines": [{"sku": "IN-2", "quantity": 99}]},
    }
    assert send(anon_client, secret, too_many).status_code == 422


def test_stock_count_event_and_a_supplier_source_is_scoped(anon_client, erp, purchase_order, make_product):
    _, secret = erp
    make_product(stock=5, sku="CNT-1")
    event = {
        "id": "cnt-1",
        "type": "stock.count",
        "data": {"warehouse": "MAIN", "counts": [{"sku": "CNT-1", "counted": 3}]},
    }
    assert send(anon_client, secret, event).status_code == 200
    assert StockItem.objects.get(product__sku="CNT-1").on_hand == 3
    assert send(anon_client, secret, event).json()["duplicate"] is True
    assert StockMovement.objects.filter(quantity=-2).count() == 1
    supplier_create(code="other", name="Other")
    _, other_secret = inbound_source_create(code="other-supplier", name="Other", supplier_code="other")
    mine = {"id": "x", "type": "purchase_order.confirmed", "data": {"number": "PO-IN-1"}}
    assert send(anon_client, other_secret, mine, source="other-supplier").status_code == 404  # not its order
    assert send(anon_client, other_secret, {**event, "id": "cnt-2"}, source="other-supplier").status_code == 403


def test_malformed_events_are_400(anon_client, erp):
    _, secret = erp
    response = send(anon_client, secret, {"id": "m", "type": "purchase_order.confirmed", "data": {}})
    assert response.status_code == 400 and "data" in response.json()["errors"]
    assert send(anon_client, secret, {"id": "m", "type": "party"}).status_code == 400
