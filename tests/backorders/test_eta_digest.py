"""The ETA digest: a rewrite that moves more than ETA_DIGEST_ABOVE (3) of one customer's backorders sends that customer
ONE e-mail listing every moved backorder instead of one per order; 3 or fewer keep their per-order e-mails; shops'
webhooks stay one per order. Written alike by the set-based statement and the Python hook, shown on every covered
order, rendered, and never written twice."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.db import transaction
from django.utils import timezone

import backorders.eta as eta
from backorders.eta import eta_recompute_product
from backorders.models import Backorder, BackorderEvent
from core.errors import InvalidInput
from fulfilment.services import LineRequest, order_place
from notifications import bulk
from notifications.models import ETA_DIGEST_ABOVE, EventBatch, Notification, NotificationPreference
from notifications.selectors import notifications_for_backorder, notifications_for_order
from notifications.services import webhook_endpoint_create
from orders.models import Customer, SalesChannel
from orders.services import CustomerData
from orders.status_links import order_status_url
from suppliers.models import PurchaseOrderLine
from tests.backorders.test_eta_bulk import _recompute_both_ways
from tests.notifications.factories import WebhookEndpointFactory, rendered
from tests.suppliers.factories import PurchaseOrderLineFactory, SupplierProductFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

TODAY = timezone.localdate


def _orders(product, name, count, *, channel=None, email=None, prefers_shop=False) -> list:
    orders = [
        order_place(
            customer=CustomerData(name, f"{name}@example.com", name.title()),
            lines=[LineRequest(product.sku, 1)],
            channel=channel,
        ).order
        for _ in range(count)
    ]
    if email is not None:
        Customer.objects.filter(pk=orders[0].customer_id).update(email=email)
    if prefers_shop:
        NotificationPreference.objects.create(customer_id=orders[0].customer_id, preferred_channel="webhook")
    return orders


@pytest.fixture
def customers(make_product):
    """One product's queue: customers with 5, 4 and 3 backorders in one rewrite, by e-mail, through a shop, or both."""
    shop = SalesChannel.objects.create(code="shop", name="Shop")
    WebhookEndpointFactory(channel=shop, url="http://127.0.0.1:9/hook")
    product = make_product(name="Lamp")
    customers = {
        "ann": _orders(product, "ann", 5),  # e-mail only: one digest
        "bob": _orders(product, "bob", 4, channel=shop),  # a digest e-mail, and a webhook per order
        "cid": _orders(product, "cid", ETA_DIGEST_ABOVE),  # 3: one e-mail per order, as before
        "dan": _orders(product, "dan", 5, channel=shop, prefers_shop=True),  # the shop tells him: webhooks only
        "eve": _orders(product, "eve", 4, email=""),  # nobody to e-mail: nothing
    }
    return product, customers


def _first_dates(product, *, days=10, lead_time=40):
    line = PurchaseOrderLineFactory(
        product=product, quantity_ordered=12, purchase_order__expected_date=TODAY() + timedelta(days=days)
    )
    SupplierProductFactory(product=product, lead_time_days=lead_time)  # beyond the PO: far out, the incentive
    return line


def _rows(orders, **filters) -> list[tuple[str, str]]:
    return sorted(
        Notification.objects.filter(customer_id=orders[0].customer_id, **filters).values_list("event", "channel")
    )


@pytest.mark.parametrize("long_delay", [0, 21])
def test_python_and_sql_write_the_same_digests(customers, settings, long_delay):
    settings.OMS = {**django_settings.OMS, "NOTIFY_LONG_DELAY_DAYS": long_delay}
    product, by_name = customers
    line = _first_dates(product)

    written = _recompute_both_ways(product)  # asserts both paths wrote the same rows
    digests = [n for n in written["notifications"] if n[0][0] == "eta_digest"]
    assert sorted(n[0][4] for n in digests) == sorted(by_name[name][0].customer_id for name in ("ann", "bob"))
    eta_rows = {"event__in": ["eta_changed", "eta_digest"]}
    assert _rows(by_name["ann"], **eta_rows) == [("eta_digest", "email")]
    assert _rows(by_name["bob"], **eta_rows) == [("eta_changed", "webhook")] * 4 + [("eta_digest", "email")]
    assert _rows(by_name["cid"], **eta_rows) == [("eta_changed", "email")] * 3
    assert _rows(by_name["dan"], **eta_rows) == [("eta_changed", "webhook")] * 5
    assert _rows(by_name["eve"], **eta_rows) == []
    # Incentives are unchanged: one per backorder, per channel.
    incentives = Notification.objects.filter(event="incentive").count()
    assert (incentives > 0) is (long_delay > 0)

    # Later by more than the threshold for everyone: a new digest (new events), the same shape.
    PurchaseOrderLine.objects.filter(pk=line.pk).update(expected_date=TODAY() + timedelta(days=30))
    written = _recompute_both_ways(product)
    moved = [n for n in written["notifications"] if n[0][0] != "incentive"]
    assert {item["eta_direction"] for n in moved for item in n[1][4]["items"]} == {"later"}
    assert sum(1 for n in written["notifications"] if n[0][0] == "eta_digest") == 2


def test_the_digest_lists_every_moved_backorder_and_shows_on_each_order(customers, staff_client, admin_client):
    product, by_name = customers
    _first_dates(product, days=6, lead_time=6)
    eta_recompute_product(product_id=product.pk)
    orders = by_name["ann"]
    events = list(BackorderEvent.objects.filter(backorder__order__in=orders, kind="eta_changed").order_by("pk"))
    digest = Notification.objects.get(event="eta_digest", customer_id=orders[0].customer_id)
    assert digest.dedupe_key == f"eta_digest:c{orders[0].customer_id}:e{events[0].pk}-{events[-1].pk}:email"
    assert (digest.channel, digest.recipient, digest.order_id, digest.backorder_id, digest.status) == (
        "email", "ann@example.com", orders[0].pk, None, "pending",
    )  # fmt: skip
    backorders = [Backorder.objects.get(order=order) for order in orders]
    new = (TODAY() + timedelta(days=6)).isoformat()
    assert digest.context["order_ids"] == [order.pk for order in orders]
    assert digest.context["backorder_ids"] == [b.pk for b in backorders]
    assert [
        (item["order_id"], item["order_number"], item["backorder_id"], item["sku"], item["old_eta"], item["new_eta"])
        for item in digest.context["items"]
    ] == [(order.pk, order.number, b.pk, product.sku, None, new) for order, b in zip(orders, backorders, strict=True)]

    # Every covered order lists it (API order detail, the selectors, the staff list by order number, the admin).
    for order, backorder in zip(orders, backorders, strict=True):
        assert digest in notifications_for_order(order)
        assert digest in notifications_for_backorder(backorder)
    other = by_name["cid"][0]
    assert digest not in notifications_for_order(other)
    assert not notifications_for_order(other).filter(event="eta_digest").exists()
    third = orders[2]
    response = staff_client.get(f"/api/v1/orders/{third.number}/")
    assert response.status_code == 200
    assert digest.pk in [n["id"] for n in response.json()["notifications"]]
    response = staff_client.get("/api/v1/notifications/", {"order": third.number})
    assert [r["id"] for r in response.json()["results"] if r["event"] == "eta_digest"] == [digest.pk]
    response = staff_client.get("/api/v1/notifications/", {"customer": "ann", "event": "eta_digest"})
    assert [r["id"] for r in response.json()["results"]] == [digest.pk]
    response = admin_client.get("/admin/notifications/notification/", {"q": third.number})
    assert digest in response.context["cl"].result_list
    response = admin_client.get(f"/admin/notifications/notification/{digest.pk}/change/")
    assert response.status_code == 200 and ", ".join(o.number for o in orders) in response.content.decode()


def test_a_replay_or_a_reprocessed_batch_writes_no_second_digest(customers):
    product, _ = customers
    _first_dates(product)
    eta_recompute_product(product_id=product.pk)
    events = list(BackorderEvent.objects.filter(kind="eta_changed", backorder__product=product).order_by("pk"))
    count = Notification.objects.count()
    assert bulk.notifications_eta_changed_for_events(event_ids=[e.pk for e in events]) == []
    # The relay finds the rewrite's batch again (as if its deletion were lost): nothing new.
    batch = EventBatch.objects.create(
        kind="eta_changed", product=product, first_event_id=events[0].pk, last_event_id=events[-1].pk
    )
    assert bulk.event_batches_process(batch_ids=[batch.pk]) == 0
    assert Notification.objects.count() == count and not EventBatch.objects.exists()


def test_the_relay_writes_one_digest_for_a_stopped_rewrites_chunks(customers, monkeypatch):
    """A rewrite of many chunks that stopped before its follow-up: the relay processes the product's batches together,
    so each customer still gets ONE digest (the same rows as the rewrite would have written)."""
    product, by_name = customers
    _first_dates(product)
    digests = Notification.objects.filter(event="eta_digest")
    sid = transaction.savepoint()
    eta_recompute_product(product_id=product.pk)
    expected = sorted(digests.values_list("customer_id", "recipient"))
    transaction.savepoint_rollback(sid)
    assert len(expected) == 2

    monkeypatch.setattr(eta, "ETA_WRITE_CHUNK_SQL", 3)  # seven chunks of the 21
    monkeypatch.setattr(eta, "follow_ups_run", lambda follow_ups: None)  # dies after the last chunk's commit
    eta_recompute_product(product_id=product.pk)
    assert EventBatch.objects.filter(kind="eta_changed").count() == 7 and not digests.exists()
    bulk.event_batches_process_pending()
    assert sorted(digests.values_list("customer_id", "recipient")) == expected
    assert [len(d.context["items"]) for d in digests.order_by("customer_id")] == [5, 4]


def test_the_digest_email_names_every_order_item_and_date(customers):
    product, by_name = customers
    line = _first_dates(product, days=6, lead_time=6)
    eta_recompute_product(product_id=product.pk)
    PurchaseOrderLine.objects.filter(pk=line.pk).update(expected_date=TODAY() + timedelta(days=20))
    eta_recompute_product(product_id=product.pk)
    digest = rendered(Notification.objects.filter(event="eta_digest", recipient="ann@example.com").latest("pk"))
    assert digest.subject == "New expected dates for 5 items of your orders"
    old = (TODAY() + timedelta(days=6)).strftime("%A %-d %B %Y")
    new = (TODAY() + timedelta(days=20)).strftime("%A %-d %B %Y")
    for order in by_name["ann"]:
        assert f"Order {order.number}" in digest.body_text and f"Order {order.number}" in digest.body_html
        assert f'href="{order_status_url(order)}"' in digest.body_html.replace("&amp;", "&")
    assert digest.body_text.count(f"Lamp ({product.sku}): coming later: {new} instead of {old}.") == 5
    assert "Hello Ann," in digest.body_text and "on 5 of your orders" in digest.body_text


def test_shops_cannot_subscribe_to_the_email_only_digest(db):
    shop = SalesChannel.objects.create(code="shop", name="Shop")
    with pytest.raises(InvalidInput):
        webhook_endpoint_create(channel=shop, url="https://hooks.example.com/x", events=["eta_digest"])


@pytest.mark.parametrize(("backorders", "digest"), [(ETA_DIGEST_ABOVE, False), (ETA_DIGEST_ABOVE + 1, True)])
def test_distinct_backorders_count_not_events_and_both_writers_agree(make_product, backorders, digest):
    """Two events of one backorder count once: 3 backorders with 4 events keep their per-order e-mails, 4 make a
    digest; the hook and the statement write the same rows for the same events."""
    from notifications.services import notifications_from_backorder_events

    products = [make_product() for _ in range(backorders)]
    order = order_place(
        customer=CustomerData("kim", "kim@example.com", "Kim"), lines=[LineRequest(p.sku, 1) for p in products]
    ).order
    other = order_place(customer=CustomerData("kim", "kim@example.com", "Kim"), lines=[LineRequest(products[0].sku, 1)])
    moved = [*Backorder.objects.filter(order=order).order_by("pk")]
    if digest:
        moved = [*moved[:-1], Backorder.objects.get(order=other.order)]  # over two orders
    soon = TODAY() + timedelta(days=5)
    events = [
        BackorderEvent(
            backorder=backorder,
            kind=BackorderEvent.Kind.ETA_CHANGED,
            message="",
            data={"old": None, "new": soon.isoformat(), "basis": "purchase_order", "old_basis": "none"},
        )
        for backorder in [*moved, moved[0]]
    ]
    with transaction.atomic():
        BackorderEvent.objects.bulk_create(events)
    mark = Notification.objects.order_by("-pk").values_list("pk", flat=True).first() or 0

    def written() -> list:
        return sorted(
            (n.event, n.channel, n.dedupe_key, n.order_id, n.backorder_id, {**n.context, "occurred_at": None})
            for n in Notification.objects.filter(pk__gt=mark)
        )

    sid = transaction.savepoint()
    notifications_from_backorder_events(events=events)
    python = written()
    transaction.savepoint_rollback(sid)
    assert bulk.notifications_eta_changed_for_events(event_ids=[event.pk for event in events])
    sql = written()
    assert sql == python
    if digest:
        [row] = sql
        assert (
            row[:2] == ("eta_digest", "email")
            and row[2] == f"eta_digest:c{order.customer_id}:e{events[0].pk}-{events[-1].pk}:email"
        )
        assert row[5]["backorder_ids"] == [b.pk for b in moved] + [moved[0].pk]
        assert row[5]["order_ids"] == [order.pk, other.order.pk] and row[3] == order.pk
    else:
        assert [(event, channel) for event, channel, *_ in sql] == [("eta_changed", "email")]  # one order, one row
