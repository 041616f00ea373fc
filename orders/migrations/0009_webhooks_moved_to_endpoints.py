"""A channel's webhook lives in notifications.WebhookEndpoint now (copied there by notifications 0009)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0008_customer_terms_at_risk"),
        ("notifications", "0009_webhook_endpoints_from_channels"),
    ]

    operations = [
        migrations.RemoveField(model_name="saleschannel", name="webhook_url"),
        migrations.RemoveField(model_name="saleschannel", name="webhook_secret"),
    ]
