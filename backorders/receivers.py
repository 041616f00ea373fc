"""Domain events backorders listens to (connected in ``BackordersConfig.ready``)."""

from __future__ import annotations

from django.dispatch import receiver

from inventory.signals import stock_added

from .services import allocation_request


@receiver(stock_added, dispatch_uid="backorders.allocate_added_stock")
def allocate_added_stock(sender, *, stock_item_ids, **kwargs) -> None:
    """Units came in: after commit, the workers offer them to the waiting queue."""
    allocation_request(stock_item_ids=stock_item_ids)
