"""Webhook endpoints (notifications.WebhookEndpoint, issue 14): the Admin role manages them, Customer service may
view them: the role table again."""

from django.db import migrations


def roles_update(apps, schema_editor):
    from importlib import import_module

    import_module("core.migrations.0001_roles").roles_create(apps, schema_editor)


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0003_roles_customer_terms"),
        ("inventory", "0003_permissions"),
        ("orders", "0009_webhooks_moved_to_endpoints"),
        ("backorders", "0008_sla"),
        ("suppliers", "0002_permissions"),
        ("notifications", "0010_endpoint_health_by_endpoint"),
    ]

    operations = [migrations.RunPython(roles_update, migrations.RunPython.noop)]
