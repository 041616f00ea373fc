import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, transaction

from core.errors import InvalidInput
from fulfilment.integrity import integrity_problems
from inventory.exceptions import InsufficientStock, UnknownSku, UnknownWarehouse
from inventory.models import StockItem, StockMovement
from inventory.services import stock_adjust

pytestmark = pytest.mark.django_db


def test_adjustment_writes_a_ledger_movement(make_product, staff_user):
    product = make_product(stock=0)
    movement = stock_adjust(
        sku=product.sku, warehouse_code="MAIN", quantity=7, reason="found in aisle 3", user=staff_user
    )
    item = StockItem.objects.get(product=product)
    assert item.on_hand == 7
    assert (movement.kind, movement.quantity, movement.reason, movement.created_by) == (
        "adjustment",
        7,
        "found in aisle 3",
        staff_user,
    )
    assert movement.actor == "staff"


def test_cannot_remove_reserved_or_missing_stock(make_product, place):
    product = make_product(stock=5)
    place({product.sku: 4})
    with pytest.raises(InsufficientStock):
        stock_adjust(sku=product.sku, warehouse_code="MAIN", quantity=-2, reason="damaged")
    stock_adjust(sku=product.sku, warehouse_code="MAIN", quantity=-1, reason="damaged")
    assert StockItem.objects.get(product=product).on_hand == 4
    assert integrity_problems() == []


def test_bad_adjustments_are_refused(make_product):
    product = make_product()
    with pytest.raises(UnknownSku):
        stock_adjust(sku="NOPE", warehouse_code="MAIN", quantity=1, reason="x")
    with pytest.raises(UnknownWarehouse):
        stock_adjust(sku=product.sku, warehouse_code="NOPE", quantity=1, reason="x")
    with pytest.raises(InvalidInput):
        stock_adjust(sku=product.sku, warehouse_code="MAIN", quantity=0, reason="x")
    with pytest.raises(InvalidInput):
        stock_adjust(sku=product.sku, warehouse_code="MAIN", quantity=1, reason="  ")
    assert not StockMovement.objects.exists()


def test_database_refuses_overselling_even_without_the_service(make_product):
    product = make_product(stock=3)
    item = StockItem.objects.get(product=product)
    with pytest.raises(IntegrityError), transaction.atomic():
        StockItem.objects.filter(pk=item.pk).update(allocated=4)
    with pytest.raises(IntegrityError), transaction.atomic():
        StockItem.objects.filter(pk=item.pk).update(on_hand=-1, allocated=0)


def test_check_integrity_command_detects_drift(make_product, place, capsys):
    product = make_product(stock=5)
    place({product.sku: 2})
    call_command("check_integrity")
    assert "Integrity OK" in capsys.readouterr().out
    # Simulate a bug that moved a counter without its rows.
    StockItem.objects.filter(product=product).update(on_hand=9)
    with pytest.raises(CommandError):
        call_command("check_integrity")
    err = capsys.readouterr().err
    assert "on_hand 9 != ledger 5" in err


def test_integrity_check_compares_each_order_status_with_its_lines(make_product, place):
    from fulfilment.integrity import integrity_problems
    from orders.models import Order

    waiting = place({make_product(stock=1).sku: 3})
    ready = place({make_product(stock=2).sku: 2})
    assert (waiting.status, ready.status) == (Order.Status.BACKORDERED, Order.Status.OPEN)
    assert integrity_problems() == []
    # Simulate a lost status flip in each direction.
    Order.objects.filter(pk=waiting.pk).update(status=Order.Status.OPEN)
    Order.objects.filter(pk=ready.pk).update(status=Order.Status.BACKORDERED)
    assert sorted(integrity_problems()) == sorted(
        [
            f"order {waiting.number}: status open != backordered from its lines",
            f"order {ready.number}: status backordered != open from its lines",
        ]
    )


def test_stock_counters_go_past_32_bits(make_product, staff_client):
    """A warehouse that has received 2,147 of the largest allowed adjustments still takes the next one."""
    product = make_product(stock=1)
    StockItem.objects.filter(product=product).update(on_hand=2_147_000_000)
    response = staff_client.post(
        "/api/v1/stock/adjustments/",
        {"sku": product.sku, "warehouse": "MAIN", "quantity": 1_000_000, "reason": "year-end recount"},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert StockItem.objects.get(product=product).on_hand == 2_148_000_000
