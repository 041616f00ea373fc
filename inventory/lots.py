"""Lots of lot-tracked products (docs/lots.md): receiving into lots, FEFO picking, quarantine and release.

A lot lives in one stock item and is guarded by that stock item's lock (``inventory.locks``): every writer of a
lot's counters holds its stock item's lock first, so lots need no lock order of their own. The stock item's
``on_hand`` and ``allocated`` stay the sums of its lots' (``check_integrity`` verifies it); the counters move only
through ``inventory.counters``.

FEFO: a line takes the lot that expires first among the lots still good enough to ship — active, with units free,
and either without expiry or expiring on or after ``ship date + product.min_shelf_life_days``. Units are taken
in the stock item order the caller chooses (which warehouse serves is routing's business), and within one stock
item by (expiry, lot id), lots without expiry last.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from django.db.models import F
from django.utils import timezone

from core.errors import InvalidInput

from .counters import stock_movement_apply
from .exceptions import LotExpired, LotNotActive, LotRequired, UnknownLot
from .models import Lot, Product, StockItem, StockMovement

_UNSET = object()


@dataclass(frozen=True)
class LotInput:
    """Units of one lot in a receipt or an adjustment. ``expiry_date`` must be said on a receipt (``None``: the lot
    does not expire); a removal needs only the number."""

    number: str
    quantity: int
    expiry_date: date | None | object = _UNSET

    @property
    def expiry_given(self) -> bool:
        return self.expiry_date is not _UNSET


def lot_min_expiry(*, product: Product, ship_date: date | None = None) -> date:
    """The earliest expiry a lot of ``product`` may have to be allocated for shipping on ``ship_date`` (today)."""
    return (ship_date or timezone.localdate()) + timedelta(days=product.min_shelf_life_days)


# Which status a lot may move to (``lot_transition``): a hold can be put on a quarantined lot too (the recall is
# recorded), and only a hold is lifted (``from_hold``: to active, or to quarantined when it is too late meanwhile).
LOT_TRANSITIONS: dict[str, set[str]] = {
    Lot.Status.ACTIVE: {Lot.Status.QUARANTINED, Lot.Status.ON_HOLD},
    Lot.Status.QUARANTINED: {Lot.Status.ON_HOLD},
    Lot.Status.ON_HOLD: set(),
}
_FROM_HOLD = {Lot.Status.ACTIVE, Lot.Status.QUARANTINED}


def lot_transition(*, lot: Lot, status: str, from_hold: bool = False) -> None:
    """The one check of a lot's status change (the caller writes it with the units it moves)."""
    from core.errors import InvalidTransition

    allowed = _FROM_HOLD if from_hold and lot.status == Lot.Status.ON_HOLD else LOT_TRANSITIONS[lot.status]
    if from_hold and lot.status != Lot.Status.ON_HOLD:
        allowed = set()
    if status not in allowed:
        raise InvalidTransition(
            f"Lot {lot.number} is {lot.status}; it cannot be "
            + ("released (only a lot on hold can)." if from_hold else f"put {status.replace('_', ' ')}."),
            details={"from": lot.status, "to": status},
        )


def lot_due_for_quarantine(lot: Lot, *, product: Product, today: date) -> bool:
    """Expired, or expiring too soon to meet the product's minimum shelf life if shipped today."""
    return lot.expiry_date is not None and lot.expiry_date < today + timedelta(days=product.min_shelf_life_days)


def lot_is_eligible(lot: Lot, *, min_expiry: date) -> bool:
    return lot.status == Lot.Status.ACTIVE and (lot.expiry_date is None or lot.expiry_date >= min_expiry)


def lot_facts() -> dict:
    """Annotations for a stock item lock (``inventory.locks``): the product's tracking and minimum shelf life, read in
    the locking statement (scalar subqueries: the product row is read, not locked)."""
    from django.db.models import OuterRef, Subquery

    product = Product.objects.filter(pk=OuterRef("product_id"))
    return {
        "product_tracking": Subquery(product.values("tracking")[:1]),
        "product_min_shelf_life": Subquery(product.values("min_shelf_life_days")[:1]),
    }


def lots_fefo(*, stock_item_ids: Iterable[int], min_expiry: dict[int, date]) -> dict[int, list[Lot]]:
    """The eligible lots with free units of these stock items (whose locks the caller holds), FEFO-ordered per
    stock item: stock item id → lots. ``min_expiry``: product id → the earliest expiry it may ship with."""
    by_item: dict[int, list[Lot]] = {}
    lots = Lot.objects.filter(stock_item_id__in=list(stock_item_ids), status=Lot.Status.ACTIVE).order_by(
        "stock_item_id", F("expiry_date").asc(nulls_last=True), "pk"
    )
    for lot in lots:
        if lot.available > 0 and lot_is_eligible(lot, min_expiry=min_expiry[lot.product_id]):
            by_item.setdefault(lot.stock_item_id, []).append(lot)
    return by_item


def lots_attach(items: Iterable[StockItem], *, ship_date: date | None = None) -> bool:
    """Give each *locked* stock item of a lot-tracked product its eligible lots, FEFO-ordered (``fefo_lots``), and the
    units they hold (``lot_units``, which ``inventory.routing.sellable_units`` respects). Untracked items are left
    alone (no query when there are none). An item's product is ``item.product`` or the ``lot_facts`` annotations.
    Returns whether any item is lot-tracked."""
    tracked = [item for item in items if _tracking(item) == Product.Tracking.LOT]
    if not tracked:
        return False
    day = ship_date or timezone.localdate()
    min_expiry = {item.product_id: day + timedelta(days=_min_shelf_life(item)) for item in tracked}
    by_item = lots_fefo(stock_item_ids=[item.pk for item in tracked], min_expiry=min_expiry)
    for item in tracked:
        item.fefo_lots = by_item.get(item.pk, [])
        item.lot_units = sum(lot.available for lot in item.fefo_lots)
    return True


def _tracking(item) -> str:
    if hasattr(item, "product_tracking"):
        return item.product_tracking
    return item.product.tracking


def _min_shelf_life(item) -> int:
    if hasattr(item, "product_min_shelf_life"):
        return item.product_min_shelf_life
    return item.product.min_shelf_life_days


def lots_take(item: StockItem, quantity: int) -> list[tuple[Lot, int]]:
    """Take ``quantity`` units of an item prepared by ``lots_attach`` from its FEFO lots, keeping the copies (and
    ``lot_units``) in step: the caller then writes them (``orders.lots.lot_allocations_add``)."""
    picks = lots_pick(item.fefo_lots, quantity)
    for lot, q in picks:
        lot.allocated += q
    item.lot_units -= sum(q for _, q in picks)
    return picks


def lots_pick(lots: list[Lot], quantity: int) -> list[tuple[Lot, int]]:
    """Take ``quantity`` units from FEFO-ordered ``lots`` (or as many as they have); the copies are not changed."""
    picks = []
    for lot in lots:
        if quantity <= 0:
            break
        q = min(lot.available, quantity)
        if q > 0:
            picks.append((lot, q))
            quantity -= q
    return picks


def lots_required_check(*, product: Product, lots: list[LotInput] | None, quantity: int, receiving: bool) -> None:
    """A movement of a lot-tracked product names its lot(s) (and, when units come in, their expiry); the lots' units
    add up to the movement. Nothing of an untracked product names a lot."""
    if not product.is_lot_tracked:
        if lots:
            raise InvalidInput(
                f"{product.sku} is not lot-tracked; leave lots out.", details={"sku": product.sku, "field": "lots"}
            )
        return
    if not lots:
        raise LotRequired(
            f"{product.sku} is lot-tracked: say which lot(s) and expiry date the units are.",
            details={"sku": product.sku},
        )
    missing = [lot.number for lot in lots if not lot.number.strip() or (receiving and not lot.expiry_given)]
    if missing:
        raise LotRequired(
            f"Every lot of {product.sku} needs a number"
            + (" and an expiry date (null: does not expire)." if receiving else "."),
            details={"sku": product.sku, "lots": missing},
        )
    numbers = [lot.number for lot in lots]
    if len(set(numbers)) != len(numbers):
        raise InvalidInput("Each lot may appear once per line.", details={"sku": product.sku, "lots": numbers})
    if any(lot.quantity <= 0 for lot in lots):
        raise InvalidInput("Lot quantities must be positive.", details={"sku": product.sku})
    if sum(lot.quantity for lot in lots) != abs(quantity):
        raise InvalidInput(
            f"The lots of {product.sku} add up to {sum(lot.quantity for lot in lots)}, not {abs(quantity)}.",
            details={"sku": product.sku, "quantity": quantity},
        )
    if receiving:
        today = timezone.localdate()
        expired = [lot.number for lot in lots if lot.expiry_date is not None and lot.expiry_date < today]
        if expired:
            raise LotExpired(
                f"Lot(s) {', '.join(expired)} of {product.sku} are already expired.",
                details={"sku": product.sku, "lots": expired},
            )


def lots_receive(
    *,
    stock_item: StockItem,
    product: Product,
    lots: list[LotInput],
    kind: str,
    reason: str = "",
    reference: str = "",
    user=None,
) -> list[StockMovement]:
    """Units into lots of a *locked* stock item (a receipt or a positive adjustment): the lots are created or found by
    number (an existing lot's expiry must match), and one ledger row per lot names it."""
    existing = {
        lot.number: lot
        for lot in Lot.objects.filter(
            product_id=product.pk, warehouse_id=stock_item.warehouse_id, number__in=[lot.number for lot in lots]
        )
    }
    movements = []
    for request in sorted(lots, key=lambda r: r.number):
        lot = existing.get(request.number)
        if lot is None:
            lot = Lot.objects.create(
                stock_item=stock_item,
                product_id=product.pk,
                warehouse_id=stock_item.warehouse_id,
                number=request.number,
                expiry_date=request.expiry_date if request.expiry_given else None,
            )
        else:
            if request.expiry_given and request.expiry_date != lot.expiry_date:
                raise InvalidInput(
                    f"Lot {lot.number} of {product.sku} expires on {lot.expiry_date}, not {request.expiry_date}.",
                    details={"lot": lot.number, "expiry_date": str(lot.expiry_date)},
                )
            if lot.status != Lot.Status.ACTIVE:
                raise LotNotActive(
                    f"Lot {lot.number} of {product.sku} is {lot.status}; units cannot be added to it.",
                    details={"lot": lot.number, "status": lot.status},
                )
        movements.append(
            stock_movement_apply(
                stock_item=stock_item,
                kind=kind,
                quantity=request.quantity,
                reason=reason,
                reference=reference,
                user=user,
                lot=lot,
                received_delta=request.quantity,
            )
        )
    return movements


def lots_remove(
    *,
    stock_item: StockItem,
    product: Product,
    lots: list[LotInput],
    reason: str,
    reference: str = "",
    user=None,
    kind: str = StockMovement.Kind.ADJUSTMENT,
) -> list[StockMovement]:
    """Unallocated units out of named lots of a *locked* stock item (a negative adjustment: shrinkage, damage; or a
    transfer leaving the warehouse)."""
    from .exceptions import InsufficientStock

    found = {
        lot.number: lot
        for lot in Lot.objects.filter(
            product_id=product.pk, warehouse_id=stock_item.warehouse_id, number__in=[lot.number for lot in lots]
        )
    }
    unknown = sorted({lot.number for lot in lots} - set(found))
    if unknown:
        raise UnknownLot(f"No lot {', '.join(unknown)} of {product.sku} here.", details={"lots": unknown})
    short = [r.number for r in lots if found[r.number].available < r.quantity]
    if short:
        raise InsufficientStock(
            f"Lot(s) {', '.join(short)} of {product.sku} have fewer unallocated units than removed.",
            details={"lots": {n: found[n].available for n in short}},
        )
    return [
        stock_movement_apply(
            stock_item=stock_item,
            kind=kind,
            quantity=-request.quantity,
            reason=reason,
            reference=reference,
            user=user,
            lot=found[request.number],
        )
        for request in sorted(lots, key=lambda r: r.number)
    ]


def lot_units_quarantine(*, lot: Lot, stock_item: StockItem, reason: str, user=None) -> StockMovement | None:
    """Move every unit of a lot out of sellable stock (its allocations already returned: ``allocated`` is 0): the
    ledger row names the lot; the units wait in ``quarantined``."""
    if lot.on_hand <= 0:
        return None
    return stock_movement_apply(
        stock_item=stock_item,
        kind=StockMovement.Kind.QUARANTINE,
        quantity=-lot.on_hand,
        reason=reason[:200],
        reference=lot.number,
        user=user,
        lot=lot,
        quarantined_delta=lot.on_hand,
    )


def lot_units_release(*, lot: Lot, stock_item: StockItem, reason: str, user=None) -> StockMovement | None:
    """Quarantined units of a lot back into sellable stock (a hold lifted)."""
    if lot.quarantined <= 0:
        return None
    return stock_movement_apply(
        stock_item=stock_item,
        kind=StockMovement.Kind.QUARANTINE,
        quantity=lot.quarantined,
        reason=reason[:200],
        reference=lot.number,
        user=user,
        lot=lot,
        quarantined_delta=-lot.quarantined,
    )
