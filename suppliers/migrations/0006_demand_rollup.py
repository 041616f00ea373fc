"""Planning's daily demand rollup (suppliers.services.demand). The rollup holds the order lines up to a watermark;
lines after it are read live. On PostgreSQL, triggers keep the rolled-up days exact when a rolled-up line changes
afterwards (a substitute adds units to an existing line; a line is deleted; an order's placed_at moves): they take
the rollup row FOR SHARE, so they wait for a refresh in progress and then see its new watermark."""

import django.db.models.deletion
from django.db import migrations, models

FUNCTIONS = """
CREATE OR REPLACE FUNCTION oms_demand_rollup_line_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    r suppliers_demandrollup%ROWTYPE;
BEGIN
    SELECT * INTO r FROM suppliers_demandrollup WHERE id = 1 FOR SHARE;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    IF OLD.id <= r.line_id_upto THEN
        UPDATE suppliers_dailydemand d SET units = d.units - OLD.quantity
          FROM orders_order o
         WHERE o.id = OLD.order_id AND d.product_id = OLD.product_id
           AND d.day = (o.placed_at AT TIME ZONE r.time_zone)::date;
    END IF;
    IF TG_OP = 'UPDATE' AND NEW.id <= r.line_id_upto THEN
        INSERT INTO suppliers_dailydemand (product_id, day, units)
        SELECT NEW.product_id, (o.placed_at AT TIME ZONE r.time_zone)::date, NEW.quantity
          FROM orders_order o WHERE o.id = NEW.order_id
            ON CONFLICT (day, product_id) DO UPDATE SET units = suppliers_dailydemand.units + EXCLUDED.units;
    END IF;
    RETURN NULL;
END
$$;
CREATE OR REPLACE FUNCTION oms_demand_rollup_order_moved() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    r suppliers_demandrollup%ROWTYPE;
    old_day date;
    new_day date;
BEGIN
    SELECT * INTO r FROM suppliers_demandrollup WHERE id = 1 FOR SHARE;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    old_day := (OLD.placed_at AT TIME ZONE r.time_zone)::date;
    new_day := (NEW.placed_at AT TIME ZONE r.time_zone)::date;
    IF old_day = new_day THEN
        RETURN NULL;
    END IF;
    UPDATE suppliers_dailydemand d SET units = d.units - x.units
      FROM (SELECT product_id, SUM(quantity) AS units FROM orders_orderline
             WHERE order_id = NEW.id AND id <= r.line_id_upto GROUP BY product_id) x
     WHERE d.product_id = x.product_id AND d.day = old_day;
    INSERT INTO suppliers_dailydemand (product_id, day, units)
    SELECT product_id, new_day, SUM(quantity) FROM orders_orderline
     WHERE order_id = NEW.id AND id <= r.line_id_upto GROUP BY product_id
        ON CONFLICT (day, product_id) DO UPDATE SET units = suppliers_dailydemand.units + EXCLUDED.units;
    RETURN NULL;
END
$$;
DROP TRIGGER IF EXISTS orders_orderline_demand_rollup ON orders_orderline;
CREATE TRIGGER orders_orderline_demand_rollup AFTER UPDATE OF quantity, product_id, order_id ON orders_orderline
    FOR EACH ROW WHEN (OLD.quantity IS DISTINCT FROM NEW.quantity OR OLD.product_id IS DISTINCT FROM NEW.product_id
                       OR OLD.order_id IS DISTINCT FROM NEW.order_id)
    EXECUTE FUNCTION oms_demand_rollup_line_changed();
DROP TRIGGER IF EXISTS orders_orderline_demand_rollup_delete ON orders_orderline;
CREATE TRIGGER orders_orderline_demand_rollup_delete AFTER DELETE ON orders_orderline
    FOR EACH ROW EXECUTE FUNCTION oms_demand_rollup_line_changed();
DROP TRIGGER IF EXISTS orders_order_demand_rollup ON orders_order;
CREATE TRIGGER orders_order_demand_rollup AFTER UPDATE OF placed_at ON orders_order
    FOR EACH ROW WHEN (OLD.placed_at IS DISTINCT FROM NEW.placed_at)
    EXECUTE FUNCTION oms_demand_rollup_order_moved();
"""

DROP = """
DROP TRIGGER IF EXISTS orders_order_demand_rollup ON orders_order;
DROP TRIGGER IF EXISTS orders_orderline_demand_rollup_delete ON orders_orderline;
DROP TRIGGER IF EXISTS orders_orderline_demand_rollup ON orders_orderline;
DROP FUNCTION IF EXISTS oms_demand_rollup_order_moved();
DROP FUNCTION IF EXISTS oms_demand_rollup_line_changed();
"""


def install(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FUNCTIONS, params=None)  # no placeholders: %ROWTYPE is plpgsql


def uninstall(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):

    dependencies = [
        ('inventory', '0008_transfer_lots'),
        ('suppliers', '0005_revision_expedite_cost'),
        ('orders', '0014_warehouse_routing'),
    ]

    operations = [
        migrations.CreateModel(
            name='DemandRollup',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('line_id_upto', models.BigIntegerField(default=0)),
                ('time_zone', models.CharField(max_length=64)),
                ('refreshed_at', models.DateTimeField(blank=True, null=True)),
            ],
            options={
                'constraints': [models.CheckConstraint(condition=models.Q(('id', 1)), name='demandrollup_one_row')],
            },
        ),
        migrations.CreateModel(
            name='DailyDemand',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('day', models.DateField()),
                ('units', models.BigIntegerField()),
                ('product', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='inventory.product')),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('day', 'product'), include=('units',), name='dailydemand_day_product')],
            },
        ),
        migrations.RunPython(install, uninstall, elidable=False),
    ]
