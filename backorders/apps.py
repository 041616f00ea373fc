from django.apps import AppConfig


class BackordersConfig(AppConfig):
    name = "backorders"
    default_auto_field = "django.db.models.BigAutoField"
