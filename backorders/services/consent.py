"""What the customer says about a backorder after placement: accepting a later expected date."""

from __future__ import annotations

from django.db import transaction

from core.errors import InvalidInput

from ..exceptions import BackorderClosed
from ..models import Backorder, BackorderEvent
from .lifecycle import backorder_event_record


@transaction.atomic
def backorder_date_accept(*, backorder: Backorder, user=None) -> Backorder:
    """The customer accepts the current expected date (later than asked or first promised): recorded as an event,
    and the order line is no longer at risk."""
    from orders.models import OrderLine

    backorder = Backorder.objects.select_for_update(no_key=True).select_related("order_line").get(pk=backorder.pk)
    if not backorder.is_waiting:
        raise BackorderClosed(f"Backorder {backorder.pk} is {backorder.status}; nothing is waiting.")
    if backorder.eta is None:
        raise InvalidInput("There is no expected date to accept yet.", details={"eta": None})
    backorder_event_record(
        backorder=backorder,
        kind=BackorderEvent.Kind.DATE_ACCEPTED,
        quantity=backorder.quantity_outstanding,
        message=f"The customer accepted the expected date {backorder.eta.isoformat()}.",
        data={"eta": backorder.eta.isoformat(), "eta_first": backorder.eta_first and backorder.eta_first.isoformat()},
        user=user,
    )
    OrderLine.objects.filter(pk=backorder.order_line_id, at_risk=True).update(at_risk=False)
    return backorder
