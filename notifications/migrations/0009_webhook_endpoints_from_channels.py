"""Each sales channel's webhook (``webhook_url`` + ``webhook_secret``) becomes one endpoint subscribed to every
event; its webhook notifications (history and pending rows) and its breaker state move to that endpoint.

Event values are spelled out here (a migration must not follow later changes of Notification.Event).
"""

import secrets

from django.db import migrations

ALL_EVENTS = [
    "backorder_created",
    "eta_changed",
    "ready",
    "shipped",
    "cancelled",
    "substitute_accepted",
    "regular_update",
    "incentive",
    "manual_update",
]


def channels_to_endpoints(apps, schema_editor):
    SalesChannel = apps.get_model("orders", "SalesChannel")
    WebhookEndpoint = apps.get_model("notifications", "WebhookEndpoint")
    WebhookEndpointHealth = apps.get_model("notifications", "WebhookEndpointHealth")
    Notification = apps.get_model("notifications", "Notification")
    for channel in SalesChannel.objects.exclude(webhook_url="").order_by("pk"):
        endpoint = WebhookEndpoint.objects.create(
            channel=channel,
            url=channel.webhook_url,
            events=ALL_EVENTS,
            is_active=True,
            secret=channel.webhook_secret or secrets.token_urlsafe(32),
        )
        Notification.objects.filter(channel="webhook", order__channel=channel).update(webhook_endpoint=endpoint)
        WebhookEndpointHealth.objects.filter(channel=channel).update(endpoint=endpoint)
    WebhookEndpointHealth.objects.filter(endpoint__isnull=True).delete()


def endpoints_to_channels(apps, schema_editor):
    """Back: the first endpoint of each channel becomes its webhook again."""
    SalesChannel = apps.get_model("orders", "SalesChannel")
    WebhookEndpoint = apps.get_model("notifications", "WebhookEndpoint")
    WebhookEndpointHealth = apps.get_model("notifications", "WebhookEndpointHealth")
    seen = set()
    for endpoint in WebhookEndpoint.objects.order_by("channel_id", "pk"):
        if endpoint.channel_id in seen:
            continue
        seen.add(endpoint.channel_id)
        SalesChannel.objects.filter(pk=endpoint.channel_id).update(
            webhook_url=endpoint.url, webhook_secret=endpoint.secret
        )
        WebhookEndpointHealth.objects.filter(endpoint=endpoint).update(channel_id=endpoint.channel_id)
    WebhookEndpointHealth.objects.filter(channel__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0008_webhook_endpoints"),
    ]

    operations = [migrations.RunPython(channels_to_endpoints, endpoints_to_channels)]
