"""The circuit breaker is per endpoint: WebhookEndpointHealth loses its channel key."""

import django.db.models.deletion
from django.db import migrations, models


def health_clear(apps, schema_editor):
    """Backwards only: breaker state is transient; the rows could not get their channel key back."""
    apps.get_model("notifications", "WebhookEndpointHealth").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0009_webhook_endpoints_from_channels"),
    ]

    operations = [
        migrations.RemoveField(model_name="webhookendpointhealth", name="channel"),
        migrations.AlterField(
            model_name="webhookendpointhealth",
            name="endpoint",
            field=models.OneToOneField(
                on_delete=django.db.models.deletion.CASCADE, related_name="health", to="notifications.webhookendpoint"
            ),
        ),
        migrations.RunPython(migrations.RunPython.noop, health_clear),
    ]
