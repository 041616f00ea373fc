"""The set-based ETA rewrite on PostgreSQL writes what the Python path writes: the same dates, the same
``eta_changed`` events, the same outbox rows (event, channel, dedupe key, recipient, context) and the same
long-delay incentives; and a large batch is published as one relay run, not one message per row."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.db import connection, transaction
from django.utils import timezone

import backorders.eta as eta
from backorders.eta import eta_recompute_product
from backorders.models import Backorder, BackorderEvent
from config.celery import app
from fulfilment.services import LineRequest, order_place
from notifications import bulk, bulk_eta
from notifications.models import Incentive, Notification, NotificationPreference
from orders.models import Customer, SalesChannel
from orders.services import CustomerData
from suppliers.models import PurchaseOrderLine, SupplierProduct
from tests.notifications.factories import WebhookEndpointFactory
from tests.suppliers.factories import PurchaseOrderLineFactory, SupplierProductFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

TODAY = timezone.localdate


class _Rollback(Exception):
    pass


def _marks() -> dict[str, int]:
    def last(model):
        return model.objects.order_by("-pk").values_list("pk", flat=True).first() or 0

    return {"event": last(BackorderEvent), "notification": last(Notification), "incentive": last(Incentive)}


def _snapshot(product, marks) -> dict:
    """Everything a recompute wrote, with what differs between two runs by construction taken out: row ids
    (event ids in dedupe keys become the event's backorder), the time, and the random incentive code."""
    events = list(BackorderEvent.objects.filter(pk__gt=marks["event"]))
    backorder_of = {event.pk: event.backorder_id for event in events}

    def key(dedupe_key: str) -> str:
        # A digest is keyed by its first and last event (eta_digest:c{customer}:e{first}-{last}:email).
        dedupe_key = re.sub(
            r":e(\d+)-(\d+):",
            lambda m: f":event-of-b{backorder_of[int(m.group(1))]}-b{backorder_of[int(m.group(2))]}:",
            dedupe_key,
        )
        return re.sub(r":e(\d+):", lambda m: f":event-of-b{backorder_of[int(m.group(1))]}:", dedupe_key)

    def context(value: dict) -> dict:
        value = {**value, "occurred_at": None}
        incentive = value.get("data", {}).get("incentive")
        if incentive:
            assert re.fullmatch(r"(THANKS|CREDIT)-[0-9A-F]{10}", incentive["code"])
            value["data"] = {**value["data"], "incentive": {**incentive, "code": None}}
        return value

    notifications = Notification.objects.filter(pk__gt=marks["notification"])
    return {
        "backorders": sorted(
            Backorder.objects.filter(product=product).values_list(
                "pk", "status", "eta", "eta_basis", "eta_first", "eta_purchase_order_line_id"
            )
        ),
        "events": sorted(
            (e.backorder_id, e.kind, e.quantity, e.message, sorted(e.data.items()), e.actor) for e in events
        ),
        "notifications": sorted(
            (
                (n.event, n.channel, key(n.dedupe_key), n.recipient, n.customer_id, n.order_id, n.backorder_id),
                (n.status, n.attempts, n.subject, n.payload, context(n.context)),
            )
            for n in notifications
        ),
        "incentives": sorted(
            (i.backorder_id, i.kind, i.code.split("-")[0], i.amount, i.currency, i.reason)
            for i in Incentive.objects.filter(pk__gt=marks["incentive"])
        ),
    }


def _recompute_both_ways(product) -> dict:
    """Recompute through the Python path (rolled back), then through the SQL path (kept); assert both wrote
    the same. Returns what was written."""
    marks = _marks()
    try:
        with transaction.atomic():
            original = eta._write_chunk
            eta._write_chunk = lambda product_id, chunk, *_: eta._write_chunk_python(product_id, chunk)
            try:
                python_written = eta_recompute_product(product_id=product.pk)
            finally:
                eta._write_chunk = original
            python = _snapshot(product, marks)
            raise _Rollback
    except _Rollback:
        pass
    assert _snapshot(product, marks)["events"] == []  # the Python run is gone
    sql_written = eta_recompute_product(product_id=product.pk)
    sql = _snapshot(product, marks)
    assert sql_written == python_written
    for part in ("backorders", "events", "incentives", "notifications"):
        assert sql[part] == python[part], part
    return sql


def _order(product, external_id, *, quantity=1, channel=None, email=None, prefers_shop=False, regular_updates=True):
    order = order_place(
        customer=CustomerData(external_id, f"{external_id}@example.com", external_id.title()),
        lines=[LineRequest(product.sku, quantity)],
        channel=channel,
    ).order
    if email is not None:
        Customer.objects.filter(pk=order.customer_id).update(email=email)
    if prefers_shop or not regular_updates:
        NotificationPreference.objects.create(
            customer_id=order.customer_id,
            preferred_channel="webhook" if prefers_shop else "email",
            regular_updates=regular_updates,
        )
    return order


def _channels(written, order) -> list[str]:
    return sorted(
        channel for (event, channel, _, _, _, order_id, _), _ in written["notifications"] if order_id == order.pk
    )


@pytest.fixture
def queue(make_product):
    """Nine backorders of one product (twelve units waiting), one per customer situation, in this queue order."""
    shop = SalesChannel.objects.create(code="shop", name="Shop")
    WebhookEndpointFactory(channel=shop, url="http://127.0.0.1:9/hook")
    no_hook = SalesChannel.objects.create(code="portal", name="Portal")
    inactive = SalesChannel.objects.create(code="old", name="Old", is_active=False)
    WebhookEndpointFactory(channel=inactive, url="http://127.0.0.1:9/old")
    product = make_product()
    orders = {
        "waited": _order(product, "ivy"),  # placed long ago (moved below): the "waited" incentive
        "plain": _order(product, "ann"),  # e-mail only
        "shop": _order(product, "bob", quantity=3, channel=shop),  # e-mail and the shop's webhook
        "prefers_shop": _order(product, "cid", channel=shop, prefers_shop=True),  # the webhook only
        "prefers_shop_no_hook": _order(product, "dan", channel=no_hook, prefers_shop=True),  # e-mail
        "prefers_shop_inactive": _order(product, "eve", channel=inactive, prefers_shop=True),  # e-mail
        # Opted out of regular updates: irrelevant, an ETA change is not optional.
        "opted_out": _order(product, "fay", quantity=3, channel=shop, regular_updates=False),
        "no_email": _order(product, "gus", email=""),  # nobody to tell (an incentive is still granted)
        "no_email_shop": _order(product, "hal", channel=shop, email="", prefers_shop=True),  # the webhook
    }
    Backorder.objects.filter(order=orders["waited"]).update(placed_at=timezone.now() - timedelta(days=30))
    # One unit already set aside for "shop" and "opted_out": two still waiting (quantity and waiting differ).
    Backorder.objects.filter(order__in=[orders["shop"], orders["opted_out"]]).update(
        quantity_allocated=1, status="partially_allocated"
    )
    return product, orders


def _hash_joins(monkeypatch) -> None:
    """The notification statement with hash joins (as for a rewrite of a long queue): the tables analysed (their
    size known) and any batch counted large."""
    monkeypatch.setattr(bulk_eta, "_HASH_JOINS_PER_TABLE_ROW", 0)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE backorders_backorder, orders_order")


@pytest.mark.parametrize("joins", ["nested loops", "hash joins"])
@pytest.mark.parametrize("threshold", [1, 10])
def test_sql_path_writes_what_the_python_path_writes(queue, settings, threshold, joins, monkeypatch):
    settings.OMS = {**django_settings.OMS, "NOTIFY_ETA_CHANGE_THRESHOLD_DAYS": threshold, "NOTIFY_LONG_DELAY_DAYS": 21}
    product, orders = queue
    if joins == "hash joins":
        _hash_joins(monkeypatch)
    # Five units come in 10 days; beyond them the supplier's 40 days (far out: the long-delay incentive).
    line = PurchaseOrderLineFactory(
        product=product, quantity_ordered=5, purchase_order__expected_date=TODAY() + timedelta(days=10)
    )
    SupplierProductFactory(product=product, lead_time_days=40)

    # 1. First dates: none → a date ("confirmed") is news for every backorder.
    written = _recompute_both_ways(product)
    assert len(written["events"]) == 9
    assert _channels(written, orders["waited"]) == ["email", "email"]  # the new date and the incentive
    assert _channels(written, orders["plain"]) == ["email"]
    assert _channels(written, orders["shop"]) == ["email", "webhook"]
    assert _channels(written, orders["prefers_shop"]) == ["webhook"]
    assert _channels(written, orders["prefers_shop_no_hook"]) == ["email", "email"]  # + incentive from here on
    assert _channels(written, orders["prefers_shop_inactive"]) == ["email", "email"]
    assert _channels(written, orders["opted_out"]) == ["email", "email", "webhook", "webhook"]
    assert _channels(written, orders["no_email"]) == []
    assert _channels(written, orders["no_email_shop"]) == ["webhook", "webhook"]
    # Queue order: waited, plain, shop (2 units), prefers_shop get the PO; the other five the lead time (40 days
    # out: incentive), and "waited" has waited 30 days (incentive).
    reasons = {backorder_id: reason for backorder_id, _, _, _, _, reason in written["incentives"]}
    assert sorted(reasons.values()) == ["expected more than 21 days after the order"] * 5 + ["waited more than 21 days"]
    directions = {
        n[0][2]: n[1][4]["items"][0]["eta_direction"] for n in written["notifications"] if n[0][0] == "eta_changed"
    }
    assert set(directions.values()) == {"confirmed"}

    # 2. One day later: news only if that is beyond the threshold (it never is: threshold ≥ 1).
    PurchaseOrderLine.objects.filter(pk=line.pk).update(expected_date=TODAY() + timedelta(days=11))
    written = _recompute_both_ways(product)
    assert len(written["events"]) == 4 and written["notifications"] == [] and written["incentives"] == []

    # 3. Nine days later: news with a threshold of 1 day, not with 10.
    PurchaseOrderLine.objects.filter(pk=line.pk).update(expected_date=TODAY() + timedelta(days=20))
    written = _recompute_both_ways(product)
    assert len(written["events"]) == 4
    assert bool(written["notifications"]) is (threshold < 9)

    # 4. Earlier: always news.
    PurchaseOrderLine.objects.filter(pk=line.pk).update(expected_date=TODAY() + timedelta(days=3))
    written = _recompute_both_ways(product)
    directions = {n[1][4]["items"][0]["eta_direction"] for n in written["notifications"]}
    assert directions == {"earlier"}

    # 5. Overdue purchase order: today, not news (the "ready" message follows).
    PurchaseOrderLine.objects.filter(pk=line.pk).update(expected_date=TODAY() - timedelta(days=1))
    written = _recompute_both_ways(product)
    assert len(written["events"]) == 4 and written["notifications"] == []

    # 6. No supply and no supplier: "unknown" is news for all nine.
    PurchaseOrderLine.objects.filter(pk=line.pk).delete()
    SupplierProduct.objects.filter(product=product).delete()
    written = _recompute_both_ways(product)
    assert len(written["events"]) == 9
    assert {n[1][4]["items"][0]["eta_direction"] for n in written["notifications"]} == {"unknown"}
    assert written["incentives"] == []  # granted once per backorder, in step 1

    # Steady state: nothing moved, nothing written.
    marks = _marks()
    assert eta_recompute_product(product_id=product.pk) == 0
    assert _snapshot(product, marks)["events"] == []


def test_hash_joins_only_for_a_batch_that_is_a_large_share_of_the_backorders_and_orders(queue):
    def settings_for(events: int) -> tuple[str, str, str]:
        with connection.cursor() as cursor:
            with bulk_eta._statement_settings(cursor, events=events):
                cursor.execute(
                    "SELECT current_setting('enable_nestloop'), current_setting('work_mem'), current_setting('jit')"
                )
                during = cursor.fetchone()
            cursor.execute("SELECT current_setting('enable_nestloop'), current_setting('work_mem')")
            assert cursor.fetchone() == before  # put back for the rest of the transaction
        return during

    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('enable_nestloop'), current_setting('work_mem')")
        before = cursor.fetchone()
        cursor.execute("ANALYZE backorders_backorder, orders_order")
        cursor.execute("SELECT sum(reltuples) FROM pg_class WHERE relname IN ('backorders_backorder', 'orders_order')")
        rows = int(cursor.fetchone()[0])
    assert rows >= 18  # the queue's nine orders and backorders
    assert settings_for(rows // 6) == ("on", "64MB", "off")
    assert settings_for(rows // 6 + 1) == ("off", "64MB", "off")


def test_sql_path_groups_and_keys_like_the_hook(queue):
    """The row of one order: key eta_changed:o{order}:e{event}:{channel}[:{endpoint}], the item, the context."""
    product, orders = queue
    PurchaseOrderLineFactory(
        product=product, quantity_ordered=20, purchase_order__expected_date=TODAY() + timedelta(days=6)
    )
    eta_recompute_product(product_id=product.pk)
    order = orders["shop"]
    backorder = Backorder.objects.get(order=order)
    event = backorder.events.get(kind="eta_changed")
    hook = order.channel.webhook_endpoints.get()
    rows = Notification.objects.filter(order=order, event="eta_changed").order_by("channel")
    assert [(n.dedupe_key, n.recipient, n.backorder_id, n.status) for n in rows] == [
        (f"eta_changed:o{order.pk}:e{event.pk}:email", "bob@example.com", backorder.pk, "pending"),
        (f"eta_changed:o{order.pk}:e{event.pk}:webhook:{hook.pk}", hook.url, backorder.pk, "pending"),
    ]
    assert rows[1].webhook_endpoint == hook
    new = (TODAY() + timedelta(days=6)).isoformat()
    assert rows[0].context["items"] == [
        {
            "backorder_id": backorder.pk,
            "sku": product.sku,
            "name": product.name,
            "quantity": 3,
            "waiting": 2,
            "status": "partially_allocated",
            "eta": new,
            "eta_basis": "purchase_order",
            "old_eta": None,
            "new_eta": new,
            "eta_direction": "confirmed",
        }
    ]
    assert (rows[0].context["backorder_ids"], rows[0].context["data"], rows[0].context["shipping_now"]) == (
        [backorder.pk],
        {},
        [],
    )
    assert event.message == f"Expected date none → {new} (purchase_order)."
    assert event.data == {"old": None, "new": new, "basis": "purchase_order", "old_basis": "none"}


def test_rows_that_stopped_waiting_are_skipped_and_a_second_run_writes_nothing(queue, monkeypatch):
    from fulfilment.services import backorder_cancel
    from notifications.bulk import notifications_eta_changed_for_events

    monkeypatch.setattr(eta, "ETA_WRITE_CHUNK_SQL", 4)  # three chunks of the nine
    product, orders = queue
    PurchaseOrderLineFactory(
        product=product, quantity_ordered=20, purchase_order__expected_date=TODAY() + timedelta(days=6)
    )
    SupplierProductFactory(product=product, lead_time_days=40)
    assert eta_recompute_product(product_id=product.pk) == 9
    events = list(BackorderEvent.objects.filter(kind="eta_changed", backorder__product=product).order_by("pk"))
    assert len(events) == 9
    counts = (Notification.objects.count(), Incentive.objects.count())

    # The same events again: the dedupe keys and the one incentive per backorder make it a no-op.
    assert notifications_eta_changed_for_events(event_ids=[e.pk for e in events]) == []
    assert (Notification.objects.count(), Incentive.objects.count()) == counts

    # A backorder cancelled between the read and its chunk's write keeps its date and gets no event.
    cancelled = Backorder.objects.get(order=orders["plain"])
    backorder_cancel(backorder=cancelled, reason="customer")
    cancelled.refresh_from_db()
    still = Backorder.objects.get(order=orders["shop"])
    later = TODAY() + timedelta(days=30)
    chunk = [
        (
            b.pk,
            later,
            "purchase_order",
            None,
            b.eta_first,
            b.eta,
            b.eta_basis,
            b.eta_purchase_order_line_id,
            later,
            None,
        )
        for b in (cancelled, still)
    ]
    before = set(Notification.objects.values_list("pk", flat=True))
    assert eta._write_chunk(product.pk, chunk) == 1
    cancelled.refresh_from_db()
    still.refresh_from_db()
    assert (cancelled.eta, still.eta) == (TODAY() + timedelta(days=6), later)
    assert cancelled.events.filter(kind="eta_changed").count() == 1
    assert still.events.filter(kind="eta_changed").count() == 2
    new = Notification.objects.exclude(pk__in=before)
    assert {n.order_id for n in new} == {orders["shop"].pk}
    assert {n.event for n in new} == {"eta_changed", "incentive"}  # 30 days out: its incentive too

    # Moved later again: news, but its incentive was granted already (one per backorder, never announced twice).
    again = later + timedelta(days=10)
    before = set(Notification.objects.values_list("pk", flat=True))
    incentives = list(Incentive.objects.values_list("pk", "backorder_id", "code"))
    moved = [(still.pk, again, "purchase_order", None, still.eta_first, later, "purchase_order", None, again, None)]
    assert eta._write_chunk(product.pk, moved) == 1
    assert list(Incentive.objects.values_list("pk", "backorder_id", "code")) == incentives
    assert {n.event for n in Notification.objects.exclude(pk__in=before)} == {"eta_changed"}


# --- publishing ------------------------------------------------------------------------------------


def _first_po(product):
    PurchaseOrderLineFactory(
        product=product, quantity_ordered=50, purchase_order__expected_date=TODAY() + timedelta(days=6)
    )


@pytest.mark.worker
def test_many_rows_publish_one_relay_run(
    queue, monkeypatch, redis_broker, published, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(bulk, "BULK_PUBLISH_MAX", 3)
    monkeypatch.setattr(eta, "ETA_WRITE_CHUNK_SQL", 2)  # five transactions, one publish
    product, _ = queue
    _first_po(product)
    app.control.purge()  # what the setup published
    with django_capture_on_commit_callbacks(execute=True):
        assert eta_recompute_product(product_id=product.pk) == 9
    pending = Notification.objects.filter(event__in=["eta_changed", "incentive"], status="pending").count()
    assert pending == 11  # nine backorders, two of them with a webhook too, one with nobody to tell: > 3
    grace = django_settings.OMS["NOTIFY_SWEEP_GRACE_SECONDS"]
    # One message for all of them, due when the rows are past the relay's grace period for first attempts.
    assert published == [("notifications.tasks.notifications_relay", grace + 1)]
    assert app.control.purge() == 1


@pytest.mark.worker
def test_few_rows_publish_a_send_task_each(queue, redis_broker, published, django_capture_on_commit_callbacks):
    product, _ = queue
    _first_po(product)
    app.control.purge()
    with django_capture_on_commit_callbacks(execute=True):
        eta_recompute_product(product_id=product.pk)
    assert len(published) == 11 == Notification.objects.filter(event__in=["eta_changed", "incentive"]).count()
    assert {name for name, _ in published} == {"notifications.tasks.notification_send"}
    assert app.control.purge() == 11


@pytest.mark.worker
@pytest.mark.parametrize("limit", [3, 200])
def test_refusing_broker_raises_nothing_and_rows_stay_pending(
    queue, monkeypatch, broker_down, redis_broker, django_capture_on_commit_callbacks, limit
):
    monkeypatch.setattr(bulk, "BULK_PUBLISH_MAX", limit)  # the relay kick, then a send task per row
    product, _ = queue
    _first_po(product)
    app.control.purge()
    with broker_down(), django_capture_on_commit_callbacks(execute=True):
        assert eta_recompute_product(product_id=product.pk) == 9
    assert Notification.objects.filter(event__in=["eta_changed", "incentive"], status="pending").count() == 11
    assert app.control.purge() == 0  # nothing reached the broker


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_the_relay_run_delivers_a_large_batch(queue, monkeypatch, settings, celery_worker_run, mailoutbox):
    """End to end on a real worker: the rewrite commits its chunks, publishes one relay run, and the relay
    hands every row to the workers (e-mails sent; the unreachable test webhook is retried later)."""
    import time

    settings.OMS = {**django_settings.OMS, "NOTIFY_SWEEP_GRACE_SECONDS": 0}  # the relay run is due in 1 s
    monkeypatch.setattr(bulk, "BULK_PUBLISH_MAX", 3)
    monkeypatch.setattr(eta, "ETA_WRITE_CHUNK_SQL", 4)
    product, _ = queue
    _first_po(product)
    app.control.purge()  # what the setup published
    emails = Notification.objects.filter(event__in=["eta_changed", "incentive"], channel="email")
    with celery_worker_run(pool="threads", concurrency=2):
        assert eta_recompute_product(product_id=product.pk) == 9
        deadline = time.monotonic() + 20
        while emails.exclude(status="sent").exists() and time.monotonic() < deadline:
            time.sleep(0.2)
    assert emails.count() == 7 and not emails.exclude(status="sent").exists()
    assert len(mailoutbox) >= 7  # (and the setup's "backorder created" e-mails, also pending: the relay sends all)


def test_chunks_leave_their_notifications_to_one_statement_after_the_last_chunk(queue, monkeypatch):
    """Each chunk commits its dates, its events and a marker row (no outbox row under the stock lock); the rows of
    every chunk are written once after the last one, and the markers are gone."""
    from notifications.models import EventBatch

    monkeypatch.setattr(eta, "ETA_WRITE_CHUNK_SQL", 4)  # three chunks of the nine
    product, _ = queue
    PurchaseOrderLineFactory(
        product=product, quantity_ordered=20, purchase_order__expected_date=TODAY() + timedelta(days=6)
    )
    seen = []
    write_chunk = eta._write_chunk
    before = Notification.objects.count()  # the backorders' "created" messages

    def chunk_then_look(product_id, chunk, follow_ups=None):
        written = write_chunk(product_id, chunk, follow_ups)
        seen.append((Notification.objects.count() - before, EventBatch.objects.filter(kind="eta_changed").count()))
        return written

    monkeypatch.setattr(eta, "_write_chunk", chunk_then_look)
    assert eta_recompute_product(product_id=product.pk) == 9
    assert seen == [(0, 1), (0, 2), (0, 3)]
    assert not EventBatch.objects.exists()
    events = BackorderEvent.objects.filter(kind="eta_changed", backorder__product=product)
    assert Notification.objects.filter(event="eta_changed").count() >= events.count() - 2  # two without e-mail
    assert set(Notification.objects.filter(event="eta_changed").values_list("status", flat=True)) == {"pending"}


def test_a_rewrite_that_stops_after_its_chunks_leaves_its_notifications_to_the_relay(queue, monkeypatch):
    """Markers committed with the chunks, the follow-up never ran (the process died): the relay writes the same
    rows (same dedupe keys) as the rewrite would have."""
    from notifications.bulk import event_batches_process_pending
    from notifications.models import EventBatch

    product, _ = queue
    PurchaseOrderLineFactory(
        product=product, quantity_ordered=20, purchase_order__expected_date=TODAY() + timedelta(days=6)
    )
    eta_rows = Notification.objects.filter(event="eta_changed")
    sid = transaction.savepoint()
    eta_recompute_product(product_id=product.pk)
    expected = sorted(eta_rows.values_list("dedupe_key", "channel", "recipient"))
    transaction.savepoint_rollback(sid)
    assert expected and not eta_rows.exists()

    monkeypatch.setattr(eta, "follow_ups_run", lambda follow_ups: None)  # dies after the last chunk's commit
    eta_recompute_product(product_id=product.pk)
    assert not eta_rows.exists() and EventBatch.objects.filter(kind="eta_changed").exists()
    event_batches_process_pending()

    def without_event_ids(rows):
        return sorted((re.sub(r":e\d+:", ":e:", key), channel, recipient) for key, channel, recipient in rows)

    got = eta_rows.values_list("dedupe_key", "channel", "recipient")
    assert without_event_ids(got) == without_event_ids(expected)
    assert not EventBatch.objects.exists()


def test_events_of_one_order_are_grouped_like_the_hook_in_event_order(make_product):
    """Several ``eta_changed`` events of one order (two products, the later backorder's event first, two events of
    one backorder): one row per channel keyed by the first event, its items in event order — what the Python hook
    writes."""
    from notifications.services import notifications_from_backorder_events

    shop = SalesChannel.objects.create(code="shop", name="Shop")
    WebhookEndpointFactory(channel=shop, url="http://127.0.0.1:9/hook")
    first, second = make_product(), make_product()
    order = order_place(
        customer=CustomerData("kim", "kim@example.com", "Kim"),
        lines=[LineRequest(first.sku, 2), LineRequest(second.sku, 1)],
        channel=shop,
    ).order
    one, two = Backorder.objects.filter(order=order).order_by("pk")

    def changed(backorder, old, new):
        return BackorderEvent(
            backorder=backorder,
            kind=BackorderEvent.Kind.ETA_CHANGED,
            message="",
            data={"old": old, "new": new, "basis": "purchase_order", "old_basis": "none"},
        )

    soon, later = (TODAY() + timedelta(days=days) for days in (5, 40))
    marks = _marks()
    events = [changed(two, None, soon.isoformat()), changed(one, None, later.isoformat())]
    events += [changed(two, soon.isoformat(), (soon - timedelta(days=2)).isoformat())]
    with transaction.atomic():
        BackorderEvent.objects.bulk_create(events)

    def written() -> list:
        return sorted(
            (n.event, n.channel, n.dedupe_key, n.backorder_id, {**n.context, "occurred_at": None})
            for n in Notification.objects.filter(pk__gt=marks["notification"], event="eta_changed")
        )

    try:
        with transaction.atomic():
            notifications_from_backorder_events(events=events)
            python = written()
            raise _Rollback
    except _Rollback:
        pass
    assert bulk.notifications_eta_changed_for_events(event_ids=[event.pk for event in events])
    sql = written()
    assert sql == python
    assert [(channel, key) for _, channel, key, _, _ in sql] == [
        ("email", f"eta_changed:o{order.pk}:e{events[0].pk}:email"),
        ("webhook", f"eta_changed:o{order.pk}:e{events[0].pk}:webhook:{shop.webhook_endpoints.get().pk}"),
    ]
    assert [item["backorder_id"] for item in sql[0][4]["items"]] == [two.pk, one.pk, two.pk]
    assert sql[0][4]["backorder_ids"] == [two.pk, one.pk, two.pk] and sql[0][3] is None
