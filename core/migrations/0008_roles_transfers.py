"""Transfers between warehouses (issue 16, warehouses half) are new models, with the ``ship_transfer``,
``receive_transfer`` and ``cancel_transfer`` permissions: the role table again, so every role gets what the table
gives it on them."""

from django.db import migrations


def roles_update(apps, schema_editor):
    from importlib import import_module

    import_module("core.migrations.0001_roles").roles_create(apps, schema_editor)


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0007_roles_lots"),
        ("inventory", "0007_transfers"),
        ("orders", "0014_warehouse_routing"),
        ("backorders", "0014_eta_basis_transfer"),
    ]

    operations = [migrations.RunPython(roles_update, migrations.RunPython.noop)]
