"""Domain events backorders listens to (connected in ``BackordersConfig.ready``)."""

from __future__ import annotations

from django.dispatch import receiver

from inventory.signals import stock_added
from orders.signals import customer_tier_changed

from .services import allocation_request, policy_scores_recompute


@receiver(stock_added, dispatch_uid="backorders.allocate_added_stock")
def allocate_added_stock(sender, *, stock_item_ids, **kwargs) -> None:
    """Units came in: after commit, the workers offer them to the waiting queue."""
    allocation_request(stock_item_ids=stock_item_ids)


@receiver(customer_tier_changed, dispatch_uid="backorders.rescore_customer")
def rescore_customer(sender, *, customer, **kwargs) -> None:
    """In the sender's transaction: the customer's waiting backorders take the new tier's score."""
    policy_scores_recompute(customer_ids=[customer.pk])
