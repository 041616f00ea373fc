"""The references checked once per statement (core.references): the history events' and the outbox's backorder,
order and customer, and an incentive's backorder. The same rule as a foreign key — a reference names an existing row,
a referenced row cannot be deleted (or its key changed, or its table truncated) while referenced — on PostgreSQL,
through the ORM and through raw SQL, and under the two races a foreign key's row lock exists for."""

from __future__ import annotations

import threading

import pytest
from django.db import IntegrityError, connection, connections, transaction
from django.utils import timezone

from backorders.models import Backorder, BackorderEvent
from notifications.models import Incentive, Notification
from orders.models import Customer, Order
from tests.orders.factories import CustomerFactory

pytestmark = pytest.mark.postgres

MISSING = 2_000_000_000


def _backordered(make_product, place, customer):
    product = make_product(stock=0)
    order = place({product.sku: 2}, customer=customer)
    return order, Backorder.objects.get(order=order)


def _notification(order, *, customer=None, backorder=None, key="k1") -> Notification:
    return Notification(
        customer=customer or order.customer, order=order, backorder=backorder, event=Notification.Event.MANUAL_UPDATE,
        channel="email", dedupe_key=key, next_attempt_at=timezone.now(),
    )  # fmt: skip


def _fails(statement, *params) -> str:
    """Runs a raw statement in a savepoint; returns the constraint it violated (23503)."""
    with pytest.raises(IntegrityError) as raised, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement, params)
    assert raised.value.__cause__.pgcode == "23503"
    return raised.value.__cause__.diag.constraint_name


def test_an_insert_naming_a_missing_row_fails_and_writes_nothing(db, make_product, place, customer):
    order, backorder = _backordered(make_product, place, customer)
    events = BackorderEvent.objects.count()

    with pytest.raises(IntegrityError), transaction.atomic():
        BackorderEvent.objects.bulk_create(
            [BackorderEvent(backorder=backorder, kind="note")] * 3 + [BackorderEvent(backorder_id=MISSING, kind="note")]
        )
    assert BackorderEvent.objects.count() == events  # the whole statement failed

    for field, value in (("order_id", MISSING), ("customer_id", MISSING), ("backorder_id", MISSING)):
        row = _notification(order, key=field)
        setattr(row, field, value)
        with pytest.raises(IntegrityError, match=field), transaction.atomic():
            row.save()
    assert not Notification.objects.filter(event=Notification.Event.MANUAL_UPDATE).exists()

    with pytest.raises(IntegrityError), transaction.atomic():
        Incentive.objects.create(backorder_id=MISSING, kind="discount_code", code="X-1", amount=1)
    assert (
        _fails(
            "INSERT INTO notifications_incentive (backorder_id, kind, code, amount, currency, reason, created_at)"
            " VALUES (%s, 'discount_code', 'X-2', 1, 'EUR', '', now())",
            MISSING,
        )
        == "notifications_incentive_backorder_id_ref"
    )

    # Existing rows (and a backorder left empty on a notification) are accepted.
    BackorderEvent.objects.create(backorder=backorder, kind="note")
    _notification(order, backorder=backorder, key="ok-1").save()
    _notification(order, key="ok-2").save()
    Incentive.objects.create(backorder=backorder, kind="discount_code", code="X-3", amount=1)


def test_an_update_to_a_missing_row_fails(db, make_product, place, customer):
    order, backorder = _backordered(make_product, place, customer)
    row = _notification(order, backorder=backorder)
    row.save()
    assert (
        _fails("UPDATE notifications_notification SET order_id = %s WHERE id = %s", MISSING, row.pk)
        == "notifications_notification_order_id_ref"
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        BackorderEvent.objects.filter(backorder=backorder).update(backorder_id=MISSING)

    other = CustomerFactory()
    Notification.objects.filter(pk=row.pk).update(customer=other)  # another existing row: fine
    row.status = Notification.Status.FAILED
    row.save()  # a save that rewrites every column, references unchanged: no check, no error


def test_a_referenced_row_cannot_be_deleted_rekeyed_or_truncated(db, make_product, place, customer):
    order, backorder = _backordered(make_product, place, customer)
    assert BackorderEvent.objects.filter(backorder=backorder).exists()  # "created"

    assert _fails("DELETE FROM backorders_backorder WHERE id = %s", backorder.pk) == (
        "backorders_backorderevent_backorder_id_ref"
    )
    assert _fails("UPDATE backorders_backorder SET id = %s WHERE id = %s", MISSING, backorder.pk) == (
        "backorders_backorderevent_backorder_id_ref"
    )
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # a TRUNCATE waits for no deferred check of this transaction
    assert _fails("TRUNCATE backorders_backorder CASCADE") == "backorders_backorderevent_backorder_id_ref"

    # A customer only the outbox names (the order is another customer's).
    named = CustomerFactory()
    _notification(order, customer=named).save()
    assert _fails("DELETE FROM orders_customer WHERE id = %s", named.pk) == "notifications_notification_customer_id_ref"
    with pytest.raises(IntegrityError), transaction.atomic():
        Customer.objects.filter(pk=named.pk)._raw_delete(using="default")  # no ORM collector in the way

    # Unreferenced rows go (a customer nobody names; the rows' own references deleted first).
    CustomerFactory().delete()
    Notification.objects.filter(customer=named).delete()
    named.delete()
    assert Backorder.objects.filter(pk=backorder.pk).exists() and Order.objects.filter(pk=order.pk).exists()


_INSERT = """
INSERT INTO notifications_notification
       (customer_id, order_id, event, channel, status, dedupe_key, recipient, subject, body_text, body_html, payload,
        context, attempts, attempts_before_retry, next_attempt_at, last_error, created_at)
VALUES (%s, %s, 'manual_update', 'email', 'pending', %s, '', '', '', '', '{}', '{}', 0, 0, now(), '', now())"""


def _connect():
    import psycopg2

    return psycopg2.connect(**connections["default"].get_connection_params())


def _in_thread(conn, statement, params) -> tuple[threading.Thread, list]:
    """Runs a statement on ``conn`` in a thread (it may wait for a lock); the list gets its error, if any."""
    outcome: list = []

    def run():
        try:
            with conn.cursor() as cursor:
                cursor.execute(statement, params)
            outcome.append(None)
        except Exception as exc:  # handed to the test
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


def _wait_until_waiting_for_a_lock(conn, watcher) -> None:
    import time

    for _ in range(600):
        with watcher.cursor() as cursor:
            cursor.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [conn.get_backend_pid()])
            if (cursor.fetchone() or [None])[0] == "Lock":
                return
        time.sleep(0.05)
    raise AssertionError("the statement never waited for the other transaction's lock")


@pytest.mark.django_db(transaction=True)
def test_an_insert_and_a_delete_of_its_row_racing_never_leave_an_orphan(make_product, place, customer):
    """What a foreign key's row lock is for, both ways round (two connections, READ COMMITTED): the insert checked
    first — the delete waits for it to commit, then finds the reference and fails; the delete went first — the insert
    waits for it to commit, then finds the row gone and fails. No notification ever names a missing customer."""
    from psycopg2 import errors

    order, _ = _backordered(make_product, place, customer)
    inserting, deleting, watcher = _connect(), _connect(), _connect()
    watcher.autocommit = True
    try:
        # The insert first.
        named = CustomerFactory()
        with inserting.cursor() as cursor:
            cursor.execute(_INSERT, [named.pk, order.pk, "race-1"])
        thread, outcome = _in_thread(deleting, "DELETE FROM orders_customer WHERE id = %s", [named.pk])
        _wait_until_waiting_for_a_lock(deleting, watcher)
        inserting.commit()
        thread.join(30)
        assert isinstance(outcome[0], errors.ForeignKeyViolation), outcome
        deleting.rollback()

        # The delete first.
        gone = CustomerFactory()
        with deleting.cursor() as cursor:
            cursor.execute("DELETE FROM orders_customer WHERE id = %s", [gone.pk])
        thread, outcome = _in_thread(inserting, _INSERT, [gone.pk, order.pk, "race-2"])
        _wait_until_waiting_for_a_lock(inserting, watcher)
        deleting.commit()
        thread.join(30)
        assert isinstance(outcome[0], errors.ForeignKeyViolation), outcome
        inserting.rollback()
    finally:
        for conn in (inserting, deleting, watcher):
            conn.close()

    assert list(Notification.objects.filter(event="manual_update").values_list("dedupe_key", flat=True)) == ["race-1"]
    assert Customer.objects.filter(pk=named.pk).exists() and not Customer.objects.filter(pk=gone.pk).exists()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM notifications_notification n"
            " WHERE NOT EXISTS (SELECT 1 FROM orders_customer c WHERE c.id = n.customer_id)"
        )
        assert cursor.fetchone()[0] == 0
