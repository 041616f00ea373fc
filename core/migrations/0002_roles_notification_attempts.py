"""The roles again, now that notifications has its attempt log and webhook endpoint health (the Admin role holds
every permission of every model; customer service views both). Running it again changes nothing."""

from importlib import import_module

from django.db import migrations

roles_create = import_module("core.migrations.0001_roles").roles_create


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0001_roles"),
        ("notifications", "0007_attempt_log_endpoint_health"),
    ]

    operations = [migrations.RunPython(roles_create, migrations.RunPython.noop)]
