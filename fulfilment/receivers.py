"""Domain events fulfilment listens to (connected in ``FulfilmentConfig.ready``)."""

from __future__ import annotations

from django.dispatch import receiver

from inventory.signals import product_unavailable

from .services import backorders_cancel_unavailable


@receiver(product_unavailable, dispatch_uid="fulfilment.cancel_waiting_units_of_unavailable_product")
def cancel_waiting_units(sender, *, product, **kwargs) -> None:
    """In the sender's transaction: the product's waiting units are cancelled with the change that caused it."""
    backorders_cancel_unavailable(product=product)
