"""backorders_create writes the backorders, their events and the ETA request rows in one statement on PostgreSQL;
the ORM path (SQLite, or one_statement=False) must write the same rows from the same objects, and both tell the
outbox the same (its rows from the backorders as written, not read again)."""

from decimal import Decimal

import pytest
from django.forms.models import model_to_dict
from django.utils import timezone

from backorders.models import Backorder, BackorderEvent, WorkRequest
from backorders.services import backorders_create
from notifications.models import Notification, NotificationPreference
from orders.models import Order, OrderLine
from orders.services import order_records_create
from tests.notifications.factories import WebhookEndpointFactory
from tests.orders.factories import CustomerFactory

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


def _place(one_statement, customer, channel, products, number):
    order = Order(
        number=number,
        customer=customer,
        channel=channel,
        placed_at=timezone.now(),
        status=Order.Status.BACKORDERED,
        ship_policy=Order.ShipPolicy.PARTIAL,
        priority=Order.Priority.HIGH,
        currency="EUR",
        total=Decimal("31.50"),
        request_fingerprint="f" * 64,
    )
    lines = [
        OrderLine(order=order, product=p, quantity=3, unit_price=Decimal("10.50"), quantity_backordered=3)
        for p in products
    ]
    order_records_create(order=order, lines=lines, allocations=[], stock_quantities={})
    backorders = backorders_create(
        order=order, customer=customer, lines=[(line, 3) for line in lines], one_statement=one_statement
    )
    return order, backorders


def _context(context):
    """What the message says, without when and which row ids (two orders are compared)."""
    kept = {k: v for k, v in context.items() if k not in ("occurred_at", "backorder_ids")}
    kept["items"] = [{k: v for k, v in item.items() if k != "backorder_id"} for item in context["items"]]
    return kept


def _rows(order):
    drop = {"id", "order", "order_line", "placed_at", "created_at", "updated_at", "eta_updated_at", "backorder"}
    backorders = sorted(
        tuple(sorted((k, str(v)) for k, v in model_to_dict(b).items() if k not in drop))
        for b in Backorder.objects.filter(order=order)
    )
    events = sorted(
        (e.backorder.product_id, e.kind, e.quantity, e.message, str(e.data), e.actor)
        for e in BackorderEvent.objects.filter(backorder__order=order)
    )
    notifications = sorted(
        (n.event, n.channel, n.recipient, n.webhook_endpoint_id, n.dedupe_key.replace(f"o{order.pk}", "o*"),
         str(_context(n.context)))
        for n in Notification.objects.filter(order=order)
    )  # fmt: skip
    return backorders, events, notifications


def test_one_statement_and_orm_write_the_same_rows(make_product, channel_key):
    channel = channel_key[0]
    WebhookEndpointFactory(channel=channel, events=["backorder_created"])
    customer = CustomerFactory(channel=channel)
    NotificationPreference.objects.create(customer=customer, preferred_channel="webhook")
    products = [make_product(stock=0) for _ in range(2)]
    orm = _place(False, customer, channel, products, "SO-ORM")
    sql = _place(True, customer, channel, products, "SO-SQL")
    assert _rows(orm[0]) == _rows(sql[0])
    assert _rows(sql[0])[2], "the outbox rows were written"
    for order, backorders in (orm, sql):
        # Keys set on the objects given, matching the rows written; their events point at them.
        assert {(b.pk, b.order_line_id, b.product_id) for b in backorders} == set(
            Backorder.objects.filter(order=order).values_list("pk", "order_line_id", "product_id")
        )
        # The answer's notifications are the rows written.
        assert sorted(n.pk for n in order.placed_notifications) == sorted(
            Notification.objects.filter(order=order).values_list("pk", flat=True)
        )
    # The ETA request rows: requested twice (once by each), one row per product.
    assert sorted(WorkRequest.objects.filter(kind="eta").values_list("product_id", "version")) == [
        (p.pk, 2) for p in sorted(products, key=lambda p: p.pk)
    ]


def test_the_outbox_writes_the_same_rows_from_the_backorders_as_written_or_as_read(make_product, channel_key):
    """notifications_from_backorder_events(loaded=True) (placement: nothing read again) and the general path that
    reads the backorders, preferences and endpoints give the same rows."""
    from notifications.services import notifications_from_backorder_events

    channel = channel_key[0]
    WebhookEndpointFactory(channel=channel, events=["backorder_created"])
    WebhookEndpointFactory(channel=channel, events=["shipped"])
    customer = CustomerFactory(channel=channel)
    products = [make_product(stock=0) for _ in range(2)]
    order, _ = _place(True, customer, channel, products, "SO-1")
    written = _rows(order)[2]
    Notification.objects.filter(order=order).delete()
    notifications_from_backorder_events(events=list(BackorderEvent.objects.filter(backorder__order=order)))
    assert _rows(order)[2] == written
