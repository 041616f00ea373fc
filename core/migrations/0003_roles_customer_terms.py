"""Customer service may manage customer terms (orders.CustomerTerms, issue 15): the role table again."""

from django.db import migrations



def roles_update(apps, schema_editor):
    from importlib import import_module

    import_module("core.migrations.0001_roles").roles_create(apps, schema_editor)


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0002_roles_notification_attempts"),
        ("inventory", "0003_permissions"),
        ("orders", "0008_customer_terms_at_risk"),
        ("backorders", "0008_sla"),
        ("suppliers", "0002_permissions"),
        ("notifications", "0007_attempt_log_endpoint_health"),
    ]

    operations = [migrations.RunPython(roles_update, migrations.RunPython.noop)]
