"""Transfers between warehouses (docs/warehouses.md): every write, each one transaction.

draft → in_transit (ship: the units leave the source by a ledger movement; only free units, never allocated ones)
      → received (the units enter the destination by a ledger movement, and are offered to the waiting queue exactly
        as a purchase-order receipt's are: ``stock_added``)
draft | in_transit → cancelled (in transit: the units go back into the source, by the ledger)

While in transit the units are dated supply for ETAs (``backorders`` reads ``transfer_lines_in_transit`` through its
supply port). Status changes go through ``transfer_transition`` only.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date

from django.db import transaction
from django.utils import timezone

from core.actors import real_user
from core.errors import DateOutOfRange, InvalidInput
from core.transitions import status_transition

from .counters import stock_movement_apply
from .exceptions import TransferExceedsAvailable, UnknownLot, UnknownSku, UnknownWarehouse
from .locks import stock_items_lock
from .lots import LotInput, lots_receive, lots_remove, lots_required_check
from .models import Lot, Product, StockItem, StockMovement, Transfer, TransferLine, Warehouse
from .signals import stock_added, stock_availability_changed

T = Transfer.Status
TRANSFER_TRANSITIONS: dict[str, set[str]] = {
    T.DRAFT: {T.IN_TRANSIT, T.CANCELLED},
    T.IN_TRANSIT: {T.RECEIVED, T.CANCELLED},
    T.RECEIVED: set(),
    T.CANCELLED: set(),
}


@dataclass(frozen=True)
class TransferLineRequest:
    sku: str
    quantity: int
    lots: list[LotInput] | None = None  # a lot-tracked product: which of the source's lots go (adding up to quantity)


def transfer_transition(*, transfer: Transfer, status: str) -> None:
    """The one place a transfer's status changes (in memory; the caller saves): the allowed map, the timestamp."""
    status_transition(
        transfer,
        status=status,
        allowed=TRANSFER_TRANSITIONS,
        stamps={T.IN_TRANSIT: "shipped_at", T.RECEIVED: "received_at", T.CANCELLED: "cancelled_at"},
        label=f"Transfer {transfer.number}",
    )


def _warehouse(code: str, field: str) -> Warehouse:
    warehouse = Warehouse.objects.filter(code=code).first() if isinstance(code, str) else None
    if warehouse is None:
        raise UnknownWarehouse(f"Unknown warehouse {code!r}.", details={field: code})
    return warehouse


@transaction.atomic
def transfer_create(
    *,
    source: str,
    destination: str,
    lines: list[TransferLineRequest],
    expected_date: date,
    note: str = "",
    user=None,
) -> Transfer:
    """A draft transfer of ``lines`` from the warehouse coded ``source`` to ``destination``. Nothing moves yet."""
    source_wh, destination_wh = _warehouse(source, "source"), _warehouse(destination, "destination")
    if source_wh.pk == destination_wh.pk:
        raise InvalidInput("A transfer goes between two different warehouses.", details={"destination": destination})
    if expected_date < timezone.localdate():
        raise DateOutOfRange(
            f"expected_date {expected_date.isoformat()} is in the past.",
            details={"field": "expected_date", "min": timezone.localdate().isoformat()},
        )
    if not lines:
        raise InvalidInput("A transfer needs at least one line.", details={"lines": []})
    skus = [line.sku for line in lines]
    if len(set(skus)) != len(skus):
        raise InvalidInput("Each SKU may appear once per transfer.", details={"skus": sorted(set(skus))})
    if any(not isinstance(line.quantity, int) or line.quantity <= 0 for line in lines):
        raise InvalidInput("Transfer quantities must be whole numbers above 0.")
    products = {p.sku: p for p in Product.objects.filter(sku__in=skus)}
    unknown = [sku for sku in skus if sku not in products]
    if unknown:
        raise UnknownSku(f"Unknown SKU: {', '.join(unknown)}.", details={"skus": unknown})
    for line in lines:
        lots_required_check(product=products[line.sku], lots=line.lots, quantity=line.quantity, receiving=False)
    _source_lots_check(source_wh, products, lines)
    transfer = Transfer.objects.create(
        number=f"TR-{timezone.now():%y%m%d}-{secrets.token_hex(3).upper()}",
        source=source_wh,
        destination=destination_wh,
        expected_date=expected_date,
        note=note[:300],
        created_by=real_user(user),
    )
    TransferLine.objects.bulk_create(
        [
            TransferLine(
                transfer=transfer,
                product=products[line.sku],
                quantity=line.quantity,
                lots=[{"number": lot.number, "quantity": lot.quantity} for lot in sorted(line.lots or [], key=_number)],
            )
            for line in lines
        ]
    )
    return transfer


def _number(lot) -> str:
    return lot.number


def _source_lots_check(source: Warehouse, products: dict[str, Product], lines: list[TransferLineRequest]) -> None:
    """The lots a transfer names exist at the source (their free units are checked when it ships)."""
    wanted = {(products[line.sku].pk, lot.number): line.sku for line in lines for lot in line.lots or []}
    if not wanted:
        return
    found = set(
        Lot.objects.filter(warehouse=source, product_id__in={pk for pk, _ in wanted}).values_list(
            "product_id", "number"
        )
    )
    unknown = sorted(f"{sku} {number}" for (pk, number), sku in wanted.items() if (pk, number) not in found)
    if unknown:
        raise UnknownLot(f"No such lot at {source.code}: {', '.join(unknown)}.", details={"lots": unknown})


def _lock(transfer: Transfer, warehouse: Warehouse) -> tuple[Transfer, list[TransferLine], dict[int, StockItem]]:
    """Lock order as everywhere: the stock items first (pk order), then the transfer. Returns the locked transfer,
    its lines and product id → locked stock item at ``warehouse`` (created empty where missing)."""
    lines = list(TransferLine.objects.filter(transfer=transfer).select_related("product").order_by("pk"))
    product_ids = [line.product_id for line in lines]
    StockItem.objects.bulk_create(  # missing stock items, in one statement (an existing one is left as it is)
        [StockItem(product_id=pk, warehouse=warehouse) for pk in product_ids], ignore_conflicts=True
    )
    ids = dict(
        StockItem.objects.filter(warehouse=warehouse, product_id__in=product_ids).values_list("product_id", "pk")
    )
    locked = {item.pk: item for item in stock_items_lock(ids.values())}
    transfer = Transfer.objects.select_for_update(no_key=True).get(pk=transfer.pk)
    return transfer, lines, {product_id: locked[pk] for product_id, pk in ids.items()}


def _line_lots(line: TransferLine) -> list[LotInput]:
    return [LotInput(number=lot["number"], quantity=lot["quantity"]) for lot in line.lots]


def _move(transfer: Transfer, lines, items, *, kind: str, sign: int, reason: str, user) -> None:
    """Units of each line out of (sign -1) or into (+1) the locked stock items, by the ledger; a lot-tracked line
    moves its named lots (into: the lot of the same number, created with the source lot's expiry where missing)."""
    for line in lines:
        item, common = items[line.product_id], {"reason": reason, "reference": transfer.number, "user": user}
        if not line.lots:
            stock_movement_apply(stock_item=item, kind=kind, quantity=sign * line.quantity, **common)
        elif sign < 0:
            moved = lots_remove(stock_item=item, product=line.product, lots=_line_lots(line), kind=kind, **common)
            expiry = {movement.lot.number: movement.lot.expiry_date for movement in moved}
            line.lots = [{**lot, "expiry_date": _iso(expiry[lot["number"]])} for lot in line.lots]
            line.save(update_fields=["lots"])
        else:
            incoming = [
                LotInput(number=lot["number"], quantity=lot["quantity"], expiry_date=_date(lot.get("expiry_date")))
                for lot in line.lots
            ]
            lots_receive(stock_item=item, product=line.product, lots=incoming, kind=kind, **common)


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None


def _date(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


@transaction.atomic
def transfer_ship(*, transfer: Transfer, user=None) -> Transfer:
    """The units leave the source (ledger ``transfer_out``). Only free units go: units reserved for orders stay."""
    transfer, lines, items = _lock(transfer, transfer.source)
    transfer_transition(transfer=transfer, status=T.IN_TRANSIT)
    short = [
        {"sku": line.product.sku, "quantity": line.quantity, "available": items[line.product_id].available}
        for line in lines
        if items[line.product_id].available < line.quantity
    ]
    if short:
        names = ", ".join(f"{s['sku']} ({s['quantity']} > {s['available']} free)" for s in short)
        raise TransferExceedsAvailable(
            f"Cannot ship from {transfer.source.code}: units reserved for orders stay; {names}.",
            details={"lines": short},
        )
    _move(transfer, lines, items, kind=StockMovement.Kind.TRANSFER_OUT, sign=-1, reason="Transfer shipped", user=user)
    transfer.save(update_fields=["status", "shipped_at", "updated_at"])
    # The source's free units became dated supply at the destination: the queue's ETAs move.
    stock_availability_changed.send(sender=Transfer, product_ids=sorted({line.product_id for line in lines}))
    return transfer


@transaction.atomic
def transfer_receive(*, transfer: Transfer, user=None) -> Transfer:
    """The units enter the destination (ledger ``transfer_in``) and are offered to the waiting queue there, exactly
    as a purchase-order receipt's are (``stock_added``: durable allocation requests after commit)."""
    transfer, lines, items = _lock(transfer, transfer.destination)
    transfer_transition(transfer=transfer, status=T.RECEIVED)
    _move(transfer, lines, items, kind=StockMovement.Kind.TRANSFER_IN, sign=1, reason="Transfer received", user=user)
    transfer.save(update_fields=["status", "received_at", "updated_at"])
    stock_added.send(sender=StockItem, stock_item_ids=sorted(item.pk for item in items.values()))
    stock_availability_changed.send(sender=Transfer, product_ids=sorted(items))  # in-transit supply became stock
    return transfer


@transaction.atomic
def transfer_cancel(*, transfer: Transfer, user=None) -> Transfer:
    """A draft is dropped; a transfer in transit brings its units back into the source (ledger ``transfer_in``),
    where they are offered to the queue again."""
    transfer, lines, items = _lock(transfer, transfer.source)
    was_in_transit = transfer.status == T.IN_TRANSIT
    transfer_transition(transfer=transfer, status=T.CANCELLED)
    if was_in_transit:
        _move(
            transfer, lines, items, kind=StockMovement.Kind.TRANSFER_IN, sign=1, reason="Transfer cancelled", user=user
        )
        stock_added.send(sender=StockItem, stock_item_ids=sorted(item.pk for item in items.values()))
        stock_availability_changed.send(sender=Transfer, product_ids=sorted(items))
    transfer.save(update_fields=["status", "cancelled_at", "updated_at"])
    return transfer
