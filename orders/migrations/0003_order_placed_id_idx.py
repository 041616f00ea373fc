"""Dashboard: (placed_at) INCLUDE (id) so the id range of a period's orders is read from the index alone.

PostgreSQL only; written as SQL so the model state is untouched. See docs/dashboard.md.
"""

from django.db import migrations

CREATE = "CREATE INDEX IF NOT EXISTS order_placed_id_idx ON orders_order (placed_at) INCLUDE (id)"
DROP = "DROP INDEX IF EXISTS order_placed_id_idx"


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("orders", "0002_orderline_dashboard_indexes")]

    operations = [migrations.RunPython(forwards, backwards)]
