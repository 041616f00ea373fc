"""The use cases that span orders and backorders, one module per topic; import from here."""

from .cancellation import CancelRequest, backorder_cancel, backorders_cancel_unavailable, order_cancel
from .consent import BackorderConsent
from .placement import LineRequest, PlacementResult, order_place
from .shipping import order_ship
from .terms import TERMS_EXPIRED, backorders_cancel_expired

__all__ = [
    "BackorderConsent",
    "CancelRequest",
    "LineRequest",
    "PlacementResult",
    "TERMS_EXPIRED",
    "backorder_cancel",
    "backorders_cancel_expired",
    "backorders_cancel_unavailable",
    "order_cancel",
    "order_place",
    "order_ship",
]
