"""Domain events of orders. Higher apps connect to them in their ``AppConfig.ready()``; orders never imports them.

- ``customer_tier_changed(customer)``: staff changed a customer's tier. Sent inside the writer's transaction;
  backorders re-scores the customer's waiting backorders in it.
- ``regular_updates_declined(customer, actor)``: the customer asked for no more regular status updates (the status
  page). Sent inside the caller's transaction; notifications records the preference.
"""

from django.dispatch import Signal

customer_tier_changed = Signal()
regular_updates_declined = Signal()
