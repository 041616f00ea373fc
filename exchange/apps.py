from django.apps import AppConfig


class ExchangeConfig(AppConfig):
    """Working beside an ERP: bulk import and export, and signed inbound events (docs/import.md)."""

    name = "exchange"
    default_auto_field = "django.db.models.BigAutoField"
