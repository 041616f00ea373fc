from django.db import migrations, models

INDEX = "notification_digest_orders_idx"


def create_index(apps, schema_editor):
    # The orders an ETA digest covers, for each order's notification list (notifications.selectors): a GIN index of
    # ``context -> 'order_ids'``, on digest rows only (other rows write no entry). PostgreSQL only (SQLite: the list
    # reads the customer's few digests instead).
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {INDEX} ON notifications_notification"
        " USING gin ((context -> 'order_ids') jsonb_path_ops) WHERE event = 'eta_digest'"
    )


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0013_updated_at"),
    ]

    operations = [
        migrations.AlterField(
            model_name="notification",
            name="event",
            field=models.CharField(
                choices=[
                    ("backorder_created", "Backorder created"),
                    ("eta_changed", "Expected date changed"),
                    ("ready", "Allocated, ready to ship"),
                    ("shipped", "Shipped"),
                    ("cancelled", "Cancelled"),
                    ("substitute_accepted", "Switched to an alternative"),
                    ("regular_update", "Regular update"),
                    ("incentive", "Long-delay incentive"),
                    ("manual_update", "Update from our team"),
                    ("eta_digest", "Expected dates changed (digest)"),
                ],
                max_length=24,
            ),
        ),
        migrations.RunPython(create_index, drop_index),
    ]
