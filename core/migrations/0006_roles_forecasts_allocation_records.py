"""Forecast choices and allocation records (issue 18) are new models: the role table again, so every role gets what
the table gives it on them (Admin everything; the others read them through the pages that show them)."""

from django.db import migrations


def roles_update(apps, schema_editor):
    from importlib import import_module

    import_module("core.migrations.0001_roles").roles_create(apps, schema_editor)


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0005_roles_exchange"),
        ("backorders", "0012_allocation_record"),
        ("suppliers", "0005_revision_expedite_cost"),
    ]

    operations = [migrations.RunPython(roles_update, migrations.RunPython.noop)]
