"""Domain events of inventory. Higher apps connect to them in their ``AppConfig.ready()``; inventory never imports
them.

- ``stock_added(stock_item_ids)``: units came into these stock items (a receipt, a positive adjustment, a return).
  Sent inside the writer's transaction; a receiver that reaches Celery does so after commit.
- ``product_unavailable(product)``: a product can no longer be backordered (discontinued or not backorderable).
  Sent inside the writer's transaction; receivers act in it (cancelling waiting units commits with the change).
- ``stock_availability_changed(product_ids)``: what may be promised of these products changed without units coming
  in (a warehouse was activated, deactivated or re-prioritised; units left for or were withdrawn from a transfer).
  Sent inside the writer's transaction; a receiver that reaches Celery does so after commit.
"""

from django.dispatch import Signal

stock_added = Signal()
product_unavailable = Signal()
stock_availability_changed = Signal()
