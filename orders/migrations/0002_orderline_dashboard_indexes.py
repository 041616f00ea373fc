"""Dashboard: two covering indexes on order lines so the KPIs read them index-only.

- ``orderline_order_qty_idx`` (order_id) INCLUDE (quantity): lines and units ordered in a period;
- ``orderline_price_idx`` (id) INCLUDE (unit_price): the value of backorders (units × order price) by a cheap
  nested loop instead of a scan of every order line.

PostgreSQL only (INCLUDE columns); written as SQL so the model state is untouched. See docs/dashboard.md.
"""

from django.db import migrations

CREATE = [
    "CREATE INDEX IF NOT EXISTS orderline_order_qty_idx ON orders_orderline (order_id) INCLUDE (quantity)",
    "CREATE INDEX IF NOT EXISTS orderline_price_idx ON orders_orderline (id) INCLUDE (unit_price)",
]
DROP = ["DROP INDEX IF EXISTS orderline_order_qty_idx", "DROP INDEX IF EXISTS orderline_price_idx"]


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for sql in CREATE:
            schema_editor.execute(sql)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for sql in DROP:
            schema_editor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [("orders", "0001_initial")]

    operations = [migrations.RunPython(forwards, backwards)]
