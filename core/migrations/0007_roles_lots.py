"""Lots and lot allocations (issue 16) are new models, with the ``hold_lot`` permission: the role table again, so
every role gets what the table gives it on them."""

from django.db import migrations


def roles_update(apps, schema_editor):
    from importlib import import_module

    import_module("core.migrations.0001_roles").roles_create(apps, schema_editor)


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0006_roles_forecasts_allocation_records"),
        ("inventory", "0005_lots"),
        ("orders", "0013_lots"),
    ]

    operations = [migrations.RunPython(roles_update, migrations.RunPython.noop)]
