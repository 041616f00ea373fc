"""Webhook endpoints (issue 14): several per sales channel, each filtered by event type, with its own secret.

Schema first (this migration), the data next (0009: each channel's webhook_url/secret becomes one endpoint), then
the breaker keyed by endpoint only (0010) and the channel's old fields dropped (orders 0009).
"""

import django.db.models.deletion
from django.db import migrations, models

import core.outbound


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0007_attempt_log_endpoint_health"),
        ("orders", "0008_customer_terms_at_risk"),
    ]

    operations = [
        migrations.CreateModel(
            name="WebhookEndpoint",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("url", models.URLField(max_length=500, validators=[core.outbound.validate_outbound_url])),
                ("events", models.JSONField(default=list)),
                ("is_active", models.BooleanField(default=True)),
                ("secret", models.CharField(max_length=128)),
                ("previous_secret", models.CharField(blank=True, max_length=128)),
                ("previous_secret_expires_at", models.DateTimeField(blank=True, null=True)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                (
                    "channel",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="webhook_endpoints",
                        to="orders.saleschannel",
                    ),
                ),
            ],
            options={
                "ordering": ["channel", "id"],
                "constraints": [models.CheckConstraint(condition=~models.Q(secret=""), name="webhook_endpoint_has_secret")],
            },
        ),
        migrations.AddField(
            model_name="notification",
            name="webhook_endpoint",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="notifications",
                to="notifications.webhookendpoint",
            ),
        ),
        migrations.AddIndex(
            model_name="notification",
            index=models.Index(
                condition=models.Q(webhook_endpoint__isnull=False),
                fields=["webhook_endpoint", "created_at"],
                name="notification_endpoint_idx",
            ),
        ),
        migrations.AddField(
            model_name="webhookendpointhealth",
            name="endpoint",
            field=models.OneToOneField(
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="health",
                to="notifications.webhookendpoint",
            ),
        ),
    ]
