"""The use cases that span orders and backorders, one module per topic; import from here."""

from .cancellation import CancelRequest, backorder_cancel, backorders_cancel_unavailable, order_cancel
from .placement import BackorderConsent, LineRequest, PlacementResult, order_place
from .shipping import order_ship

__all__ = [
    "BackorderConsent",
    "CancelRequest",
    "LineRequest",
    "PlacementResult",
    "backorder_cancel",
    "backorders_cancel_unavailable",
    "order_cancel",
    "order_place",
    "order_ship",
]
