"""The staff roles (core/roles.py) as Django groups.

Permissions are normally created after ``migrate`` has finished (a post_migrate signal); the groups need them now,
so they are created here first, for the apps whose permissions the roles use. Running it again changes nothing.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

from core.roles import _labels, roles_sync


def roles_create(apps, schema_editor):
    for label in _labels(apps):
        app_config = apps.get_app_config(label)
        # Historical app configs have no models module, which create_permissions takes to mean "no models".
        app_config.models_module = True
        try:
            create_permissions(app_config, verbosity=0, apps=apps, using=schema_editor.connection.alias)
        finally:
            app_config.models_module = None
    roles_sync(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("inventory", "0003_permissions"),
        ("orders", "0007_permissions"),
        ("backorders", "0005_permissions"),
        ("suppliers", "0002_permissions"),
        ("notifications", "0006_permissions"),
    ]

    # Reversing leaves the groups (and who is in them) in place: removing them would silently take people's access.
    operations = [migrations.RunPython(roles_create, migrations.RunPython.noop)]
