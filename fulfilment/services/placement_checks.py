"""What order placement checks of a request before it touches stock: the lines (quantities, limits, duplicates)."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from core.errors import InvalidInput
from orders.exceptions import DuplicateSku
from orders.models import Order

# The allowed values, as sets (an enum's ``values`` builds its list on every use; placement checks every order).
SHIP_POLICIES, PRIORITIES = frozenset(Order.ShipPolicy.values), frozenset(Order.Priority.values)


@dataclass(frozen=True)
class LineRequest:
    sku: str
    quantity: int


def validate_lines(lines: list[LineRequest]) -> None:
    limits = settings.OMS
    if not lines:
        raise InvalidInput("An order needs at least one line.", details={"lines": []})
    if len(lines) > limits["MAX_ORDER_LINES"]:
        raise InvalidInput(f"An order may have at most {limits['MAX_ORDER_LINES']} lines.")
    seen: set[str] = set()
    duplicates: list[str] = []
    for line in lines:
        if not isinstance(line.quantity, int) or isinstance(line.quantity, bool) or line.quantity <= 0:
            raise InvalidInput(f"Quantity of {line.sku} must be a whole number above 0.", details={"sku": line.sku})
        if line.quantity > limits["MAX_LINE_QUANTITY"]:
            raise InvalidInput(
                f"Quantity {line.quantity} of {line.sku} is above the limit of {limits['MAX_LINE_QUANTITY']}.",
                details={"sku": line.sku, "max": limits["MAX_LINE_QUANTITY"]},
            )
        if line.sku in seen:
            duplicates.append(line.sku)
        seen.add(line.sku)
    if duplicates:
        raise DuplicateSku(
            f"Each SKU may appear once per order; repeated: {', '.join(sorted(set(duplicates)))}.",
            details={"skus": sorted(set(duplicates))},
        )
