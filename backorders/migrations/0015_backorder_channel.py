"""The order's sales channel copied onto each backorder (docs/performance.md, "Reads at volume"): filled from the
orders, then kept equal to the order's by two PostgreSQL triggers, so every writer (the ORM, set-based SQL, a bulk
import) gets it right without knowing about it:

- ``BEFORE INSERT OR UPDATE OF order_id, channel_id`` on backorders: the channel is read from the order (a value
  written by the caller is replaced, never trusted);
- ``AFTER UPDATE OF channel_id`` on orders, when it really changed: the order's backorders follow.

Elsewhere (SQLite in development) the services set it when they create a backorder.
"""

import django.db.models.deletion
from django.db import migrations, models

FUNCTIONS = """
CREATE OR REPLACE FUNCTION oms_backorder_channel_from_order() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.channel_id := (SELECT o.channel_id FROM orders_order o WHERE o.id = NEW.order_id);
    RETURN NEW;
END
$$;
CREATE OR REPLACE FUNCTION oms_order_channel_to_backorders() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE backorders_backorder SET channel_id = NEW.channel_id
     WHERE order_id = NEW.id AND channel_id IS DISTINCT FROM NEW.channel_id;
    RETURN NULL;
END
$$;
DROP TRIGGER IF EXISTS backorders_backorder_channel ON backorders_backorder;
CREATE TRIGGER backorders_backorder_channel BEFORE INSERT OR UPDATE OF order_id, channel_id ON backorders_backorder
    FOR EACH ROW EXECUTE FUNCTION oms_backorder_channel_from_order();
DROP TRIGGER IF EXISTS orders_order_channel_to_backorders ON orders_order;
CREATE TRIGGER orders_order_channel_to_backorders AFTER UPDATE OF channel_id ON orders_order
    FOR EACH ROW WHEN (OLD.channel_id IS DISTINCT FROM NEW.channel_id)
    EXECUTE FUNCTION oms_order_channel_to_backorders();
"""

DROP = """
DROP TRIGGER IF EXISTS orders_order_channel_to_backorders ON orders_order;
DROP TRIGGER IF EXISTS backorders_backorder_channel ON backorders_backorder;
DROP FUNCTION IF EXISTS oms_order_channel_to_backorders();
DROP FUNCTION IF EXISTS oms_backorder_channel_from_order();
"""


TOUCH = "backorders_backorder_touch_updated_at"  # core.triggers, migration 0010


def backfill(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        # Not a change an API reader sees: the backfill leaves updated_at alone (an ERP polling ?updated_since= is
        # not sent every backorder again). The pending foreign-key checks of the UPDATE are run before the trigger
        # is enabled again (ALTER TABLE refuses to run with pending trigger events).
        with schema_editor.connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_trigger WHERE tgname = %s", [TOUCH])
            touch = cursor.fetchone() is not None
        if touch:
            schema_editor.execute(f'ALTER TABLE backorders_backorder DISABLE TRIGGER "{TOUCH}"')
        schema_editor.execute(
            "UPDATE backorders_backorder b SET channel_id = o.channel_id FROM orders_order o"
            " WHERE o.id = b.order_id AND o.channel_id IS NOT NULL"
        )
        if touch:
            schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            schema_editor.execute(f'ALTER TABLE backorders_backorder ENABLE TRIGGER "{TOUCH}"')
            schema_editor.execute("SET CONSTRAINTS ALL DEFERRED")
        schema_editor.execute(FUNCTIONS)
        return
    Backorder = apps.get_model("backorders", "Backorder")
    Order = apps.get_model("orders", "Order")
    for order_id, channel_id in Order.objects.filter(channel__isnull=False).values_list("pk", "channel_id"):
        Backorder.objects.filter(order_id=order_id).update(channel_id=channel_id)


def unfill(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [
        ("backorders", "0014_eta_basis_transfer"),
        ("orders", "0014_warehouse_routing"),
    ]

    operations = [
        migrations.AddField(
            model_name="backorder",
            name="channel",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                editable=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="orders.saleschannel",
            ),
        ),
        migrations.RunPython(backfill, unfill, elidable=False),
        migrations.AddIndex(
            model_name="backorder",
            index=models.Index(
                models.F("channel"),
                models.OrderBy(models.F("priority_rank"), descending=True),
                models.OrderBy(models.F("priority_score"), descending=True),
                models.F("placed_at"),
                models.F("id"),
                name="backorder_channel_queue_idx",
            ),
        ),
    ]
