"""The allocation engine's set-based "ready" rows, written after its commit from an event batch, are the rows
the Python hook would write; a batch whose task was lost is processed by the relay; processing is idempotent."""

import pytest

from backorders.allocation import backorders_allocate
from backorders.models import BackorderEvent
from fulfilment.services import LineRequest, order_place
from inventory.services import stock_adjust
from notifications.bulk import event_batch_process, event_batches_process_pending
from notifications.models import EventBatch, Notification, NotificationPreference
from notifications.services.outbox import outbox_item, outbox_rows
from orders.models import SalesChannel
from orders.services import CustomerData
from tests.notifications.factories import WebhookEndpointFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def _place(product, channel, external_id, quantity):
    return order_place(
        customer=CustomerData(external_id, f"{external_id}@example.com", external_id.title()),
        lines=[LineRequest(product.sku, quantity)],
        channel=channel,
    ).order


@pytest.mark.parametrize("prefers_shop", [False, True])
def test_ready_rows_match_the_python_hook(make_product, prefers_shop):
    channel = SalesChannel.objects.create(code="shop", name="Shop")
    WebhookEndpointFactory(channel=channel, url="http://127.0.0.1:9/hook", secret="s")
    product = make_product(stock=0)
    full = _place(product, channel, "ann", 2)
    partial = _place(product, channel, "bob", 5)
    if prefers_shop:
        NotificationPreference.objects.create(customer=full.customer, preferred_channel="webhook")
    stock_adjust(sku=product.sku, warehouse_code="MAIN", quantity=4, reason="found")

    assert backorders_allocate(product_id=product.pk) == 4
    # The allocation's transaction wrote its events and one batch row, no notification yet.
    assert not Notification.objects.filter(event="ready").exists()
    assert EventBatch.objects.count() == 1
    event_batches_process_pending()
    assert not EventBatch.objects.exists()

    ready = Notification.objects.filter(event="ready").order_by("channel")
    # Only the backorder that got everything it needs is ready; the partial one is not told yet.
    assert {n.order_id for n in ready} == {full.pk}
    assert [n.channel for n in ready] == (["webhook"] if prefers_shop else ["email", "webhook"])
    event = BackorderEvent.objects.get(backorder__order=full, kind="allocated")
    backorder = event.backorder
    expected = outbox_rows(
        order=full, backorders=[backorder], event="ready", key=f"ready:o{full.pk}:e{event.pk}",
        items=[outbox_item(backorder, event)], data={},
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


def test_a_batch_is_written_once_even_if_processed_twice(make_product):
    product = make_product(stock=0)
    orders = [_place(product, None, f"c{i}", 1) for i in range(3)]
    stock_adjust(sku=product.sku, warehouse_code="MAIN", quantity=3, reason="found")
    backorders_allocate(product_id=product.pk)
    batch = EventBatch.objects.get()
    events = BackorderEvent.objects.filter(kind="allocated")
    assert (batch.kind, batch.product_id) == ("ready", product.pk)
    assert (batch.first_event_id, batch.last_event_id) == (min(e.pk for e in events), max(e.pk for e in events))

    assert event_batch_process(batch_id=batch.pk) == 3
    assert event_batch_process(batch_id=batch.pk) == 0  # a duplicate delivery of the task
    # Even a batch recorded again over the same events (a retried transaction) adds nothing.
    again = EventBatch.objects.create(kind="ready", product_id=product.pk, first_event_id=batch.first_event_id,
                                      last_event_id=batch.last_event_id)  # fmt: skip
    assert event_batch_process(batch_id=again.pk) == 0
    assert sorted(Notification.objects.filter(event="ready").values_list("order_id", flat=True)) == sorted(
        o.pk for o in orders
    )


def test_the_relay_writes_the_notifications_of_a_batch_whose_task_was_lost(make_product):
    from notifications.tasks import notifications_relay

    product = make_product(stock=0)
    order = _place(product, None, "ann", 2)
    stock_adjust(sku=product.sku, warehouse_code="MAIN", quantity=2, reason="found")
    backorders_allocate(product_id=product.pk)  # in a test transaction its after-commit task never runs
    assert not Notification.objects.filter(event="ready").exists()

    notifications_relay()

    assert not EventBatch.objects.exists()
    assert Notification.objects.filter(event="ready", order=order, channel="email").count() == 1


def test_batches_only_cover_their_own_product(make_product):
    """Events of another product interleaved in the id range are not notified twice or wrongly."""
    lamp, kettle = make_product(stock=0), make_product(stock=0)
    lamp_order, kettle_order = _place(lamp, None, "ann", 1), _place(kettle, None, "bob", 1)
    stock_adjust(sku=kettle.sku, warehouse_code="MAIN", quantity=1, reason="found")
    stock_adjust(sku=lamp.sku, warehouse_code="MAIN", quantity=1, reason="found")
    backorders_allocate(product_id=kettle.pk)
    backorders_allocate(product_id=lamp.pk)
    lamp_batch = EventBatch.objects.get(product=lamp)
    # Widen the lamp batch over the kettle's event: still only the lamp's order is notified by it.
    EventBatch.objects.filter(pk=lamp_batch.pk).update(first_event_id=0)
    assert event_batch_process(batch_id=lamp_batch.pk) == 1
    assert list(Notification.objects.filter(event="ready").values_list("order_id", flat=True)) == [lamp_order.pk]
    event_batches_process_pending()
    assert Notification.objects.filter(event="ready", order=kettle_order).count() == 1


@pytest.fixture
def large_batch(make_product, monkeypatch):
    """A "ready" batch of three rows, above a publishing threshold lowered to two."""
    from notifications import bulk

    monkeypatch.setattr(bulk, "BULK_PUBLISH_MAX", 2)
    product = make_product(stock=0)
    for i in range(3):
        _place(product, None, f"c{i}", 1)
    stock_adjust(sku=product.sku, warehouse_code="MAIN", quantity=3, reason="found")
    backorders_allocate(product_id=product.pk)
    return product


@pytest.mark.worker
def test_a_large_batch_publishes_one_relay_run_not_a_task_per_row(
    redis_broker, published, large_batch, django_capture_on_commit_callbacks
):
    from django.conf import settings

    from config.celery import app

    app.control.purge()
    published.clear()

    with django_capture_on_commit_callbacks(execute=True):
        assert event_batches_process_pending() == 3

    grace = settings.OMS["NOTIFY_SWEEP_GRACE_SECONDS"]
    assert published == [("notifications.tasks.notifications_relay", grace + 1)]
    assert Notification.objects.filter(event="ready", status="pending").count() == 3


def test_a_ready_row_written_after_the_order_shipped_still_tells_what_happened_at_the_allocation(make_product):
    from fulfilment.services import order_ship

    product = make_product(stock=0)
    order = _place(product, None, "ann", 2)
    stock_adjust(sku=product.sku, warehouse_code="MAIN", quantity=2, reason="found")
    backorders_allocate(product_id=product.pk)
    order_ship(order=order)  # before the batch's task ran

    event_batches_process_pending()

    [item] = Notification.objects.get(event="ready", order=order, channel="email").context["items"]
    assert (item["status"], item["waiting"], item["quantity"]) == ("allocated", 0, 2)


def test_without_a_broker_a_large_batch_is_sent_at_once(large_batch, django_capture_on_commit_callbacks):
    """Eager mode (no broker, so no beat and no relay later): every row is sent right after commit."""
    with django_capture_on_commit_callbacks(execute=True):
        assert event_batches_process_pending() == 3

    assert list(Notification.objects.filter(event="ready").values_list("status", flat=True)) == ["sent"] * 3


def test_a_batch_that_fails_does_not_stop_the_others(make_product, monkeypatch):
    """A batch whose notifications cannot be written stays for the next run; the others are written."""
    from django.db import DatabaseError

    from notifications import bulk

    lamp, kettle = make_product(stock=0), make_product(stock=0)
    _place(lamp, None, "ann", 1)
    kettle_order = _place(kettle, None, "bob", 1)
    for product in (lamp, kettle):
        stock_adjust(sku=product.sku, warehouse_code="MAIN", quantity=1, reason="found")
        backorders_allocate(product_id=product.pk)
    broken = EventBatch.objects.get(product=lamp)
    process = bulk.event_batches_process

    def failing_for_the_lamp(*, batch_ids):
        if broken.pk in batch_ids:
            raise DatabaseError("simulated failure")
        return process(batch_ids=batch_ids)

    monkeypatch.setattr(bulk, "event_batches_process", failing_for_the_lamp)

    assert bulk.event_batches_process_pending() == 1

    assert list(EventBatch.objects.values_list("pk", flat=True)) == [broken.pk]
    assert Notification.objects.filter(event="ready", order=kettle_order).count() == 1


def test_large_outbox_values_are_stored_compressed_with_lz4(make_product):
    # Migration 0015: a digest's context (every moved backorder) and a rendered e-mail are stored out of line and
    # compressed with lz4 (faster to write than the default pglz) where the server has it.
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'")
        if not cursor.fetchone()[0]:
            pytest.skip("this PostgreSQL server was built without lz4")
    order = _place(make_product(), SalesChannel.objects.create(code="shop", name="Shop"), "c1", 1)
    items = [{"backorder_id": n, "sku": f"SKU-{n}", "name": "A product", "new_eta": "2027-01-04"} for n in range(300)]
    row = Notification.objects.create(
        customer=order.customer, order=order, event=Notification.Event.ETA_DIGEST, channel="email",
        dedupe_key="lz4-test", context={"items": items}, body_html="<p>A moved backorder</p>" * 500,
        next_attempt_at=order.placed_at,
    )  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_column_compression(context), pg_column_compression(body_html), pg_column_size(context)"
            " FROM notifications_notification WHERE id = %s",
            [row.pk],
        )
        context_method, html_method, stored = cursor.fetchone()
    assert (context_method, html_method) == ("lz4", "lz4")
    assert stored < len(str(items)) / 4  # compressed, not just moved out of line
    row.refresh_from_db()
    assert row.context["items"] == items
