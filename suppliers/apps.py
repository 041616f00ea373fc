from django.apps import AppConfig


class SuppliersConfig(AppConfig):
    name = "suppliers"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from backorders.supply import supply_source_register

        from .supply import PURCHASE_ORDERS

        supply_source_register(PURCHASE_ORDERS)
