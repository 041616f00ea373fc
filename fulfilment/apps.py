from django.apps import AppConfig


class FulfilmentConfig(AppConfig):
    name = "fulfilment"
    verbose_name = "Fulfilment"

    def ready(self) -> None:
        from . import receivers  # noqa: F401  (connects the domain events this app listens to)
