"""Domain events of orders. Higher apps connect to them in their ``AppConfig.ready()``; orders never imports them.

- ``customer_tier_changed(customer)``: staff changed a customer's tier. Sent inside the writer's transaction;
  backorders re-scores the customer's waiting backorders in it.
"""

from django.dispatch import Signal

customer_tier_changed = Signal()
