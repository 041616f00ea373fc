"""The monthly level of planning's demand rollup (docs/performance.md, "Reads at volume"): Σ units and Σ units² of
the daily rows per product and month. On PostgreSQL, statement triggers on suppliers_dailydemand append what each
statement changed (from its transition tables: inserted days add, deleted days subtract, an updated day adds
new² − old²), so whoever writes the days (the refresh, the triggers of 0006, a rebuild) moves the months with them
in the same transaction. The existing days are summed into months once, here, with their writers locked out."""

import django.db.models.deletion
from django.db import migrations, models

FUNCTIONS = """
CREATE OR REPLACE FUNCTION oms_daily_demand_months() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO suppliers_monthlydemand (product_id, month, units, squares)
        SELECT product_id, date_trunc('month', day)::date, SUM(units), SUM(units * units)
          FROM new_days GROUP BY 1, 2;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO suppliers_monthlydemand (product_id, month, units, squares)
        SELECT product_id, date_trunc('month', day)::date, -SUM(units), -SUM(units * units)
          FROM old_days GROUP BY 1, 2;
    ELSE
        INSERT INTO suppliers_monthlydemand (product_id, month, units, squares)
        SELECT product_id, date_trunc('month', day)::date, SUM(units), SUM(squares)
          FROM (SELECT product_id, day, units, units * units AS squares FROM new_days
                 UNION ALL
                SELECT product_id, day, -units, -(units * units) FROM old_days) changed
         GROUP BY 1, 2
        HAVING SUM(units) <> 0 OR SUM(squares) <> 0;
    END IF;
    RETURN NULL;
END
$$;
DROP TRIGGER IF EXISTS suppliers_dailydemand_months_insert ON suppliers_dailydemand;
CREATE TRIGGER suppliers_dailydemand_months_insert AFTER INSERT ON suppliers_dailydemand
    REFERENCING NEW TABLE AS new_days FOR EACH STATEMENT EXECUTE FUNCTION oms_daily_demand_months();
DROP TRIGGER IF EXISTS suppliers_dailydemand_months_update ON suppliers_dailydemand;
CREATE TRIGGER suppliers_dailydemand_months_update AFTER UPDATE ON suppliers_dailydemand
    REFERENCING OLD TABLE AS old_days NEW TABLE AS new_days FOR EACH STATEMENT
    EXECUTE FUNCTION oms_daily_demand_months();
DROP TRIGGER IF EXISTS suppliers_dailydemand_months_delete ON suppliers_dailydemand;
CREATE TRIGGER suppliers_dailydemand_months_delete AFTER DELETE ON suppliers_dailydemand
    REFERENCING OLD TABLE AS old_days FOR EACH STATEMENT EXECUTE FUNCTION oms_daily_demand_months();
"""

BACKFILL = """
LOCK TABLE suppliers_dailydemand IN SHARE ROW EXCLUSIVE MODE;
DELETE FROM suppliers_monthlydemand;
INSERT INTO suppliers_monthlydemand (product_id, month, units, squares)
SELECT product_id, date_trunc('month', day)::date, SUM(units), SUM(units * units)
  FROM suppliers_dailydemand GROUP BY 1, 2;
"""

DROP = """
DROP TRIGGER IF EXISTS suppliers_dailydemand_months_delete ON suppliers_dailydemand;
DROP TRIGGER IF EXISTS suppliers_dailydemand_months_update ON suppliers_dailydemand;
DROP TRIGGER IF EXISTS suppliers_dailydemand_months_insert ON suppliers_dailydemand;
DROP FUNCTION IF EXISTS oms_daily_demand_months();
"""


def install(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKFILL)
        schema_editor.execute(FUNCTIONS, params=None)  # no placeholders


def uninstall(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):

    dependencies = [
        ('inventory', '0008_transfer_lots'),
        ('suppliers', '0006_demand_rollup'),
    ]

    operations = [
        migrations.CreateModel(
            name='MonthlyDemand',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('month', models.DateField()),
                ('units', models.BigIntegerField()),
                ('squares', models.BigIntegerField()),
                ('product', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='inventory.product')),
            ],
            options={
                'indexes': [models.Index(fields=['month', 'product'], include=('units', 'squares'), name='monthlydemand_month_product')],
            },
        ),
        migrations.RunPython(install, uninstall, elidable=False),
    ]
