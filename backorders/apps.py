from django.apps import AppConfig


class BackordersConfig(AppConfig):
    name = "backorders"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import receivers  # noqa: F401  (connects the domain events this app listens to)
        from .supply import supply_source_register
        from .transit import TRANSFERS

        supply_source_register(TRANSFERS)  # units in transit between warehouses (backorders/transit.py)
