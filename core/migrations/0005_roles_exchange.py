"""Imports and inbound events (exchange, issue 17): Customer service, Planner and Warehouse lead may import (each
kind also needs the permissions of what it writes): the role table again."""

from django.db import migrations


def roles_update(apps, schema_editor):
    from importlib import import_module

    import_module("core.migrations.0001_roles").roles_create(apps, schema_editor)


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0004_roles_webhook_endpoints"),
        ("inventory", "0004_updated_at"),
        ("orders", "0012_updated_at_external_reference"),
        ("backorders", "0010_updated_at"),
        ("suppliers", "0003_updated_at_confirmed_at"),
        ("notifications", "0013_updated_at"),
        ("exchange", "0001_initial"),
    ]

    operations = [migrations.RunPython(roles_update, migrations.RunPython.noop)]
