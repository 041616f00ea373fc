"""Room on every page of orders and order lines for one more version of each row (fillfactor 50, was 80).

The allocation engine serving a receipt updates the counters of every line it serves and the status of every
order it completes, often all the rows of a page (a backlog of orders placed one after the other). With 20 % free
space only a quarter of those updates fit on their page as HOT updates; the rest write a new entry in every index
of the table (seven for orders). Measured in bench/allocation.py (docs/performance.md, "Allocation"): the order
status step and the line counters take about half the time with room for every row. The price: the two tables
take up to twice the pages. Existing pages keep their layout until the table is rewritten (VACUUM FULL or
pg_repack); new pages get the room at once.
"""

from django.db import migrations

FILLFACTOR = 50
PREVIOUS = 80
TABLES = ("orders_orderline", "orders_order")


def fillfactor_set(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for table in TABLES:
            schema_editor.execute(f"ALTER TABLE {table} SET (fillfactor = {FILLFACTOR})")


def fillfactor_reset(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for table in TABLES:
            schema_editor.execute(f"ALTER TABLE {table} SET (fillfactor = {PREVIOUS})")


class Migration(migrations.Migration):
    dependencies = [("orders", "0009_webhooks_moved_to_endpoints")]

    operations = [migrations.RunPython(fillfactor_set, fillfactor_reset, elidable=False)]
