"""Domain events backorders listens to (connected in ``BackordersConfig.ready``)."""

from __future__ import annotations

from django.dispatch import receiver

from inventory.signals import stock_added, stock_availability_changed
from orders.signals import customer_tier_changed

from .services import allocation_request, allocation_request_for_products, eta_request, policy_scores_recompute


@receiver(stock_added, dispatch_uid="backorders.allocate_added_stock")
def allocate_added_stock(sender, *, stock_item_ids, **kwargs) -> None:
    """Units came in: after commit, the workers offer them to the waiting queue."""
    allocation_request(stock_item_ids=stock_item_ids)


@receiver(stock_availability_changed, dispatch_uid="backorders.reoffer_changed_stock")
def reoffer_changed_stock(sender, *, product_ids, **kwargs) -> None:
    """What may be promised changed (a warehouse, a transfer): after commit, the queue is offered the stock again and
    the ETAs are recomputed (durable work requests, as for added stock)."""
    from .models import Backorder

    waiting = set(
        Backorder.objects.filter(product_id__in=list(product_ids), status__in=Backorder.WAITING)
        .values_list("product_id", flat=True)
        .distinct()
    )
    allocation_request_for_products(product_ids=sorted(waiting))
    eta_request(product_ids=sorted(waiting))


@receiver(customer_tier_changed, dispatch_uid="backorders.rescore_customer")
def rescore_customer(sender, *, customer, **kwargs) -> None:
    """In the sender's transaction: the customer's waiting backorders take the new tier's score."""
    policy_scores_recompute(customer_ids=[customer.pk])
