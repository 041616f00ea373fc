import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("oms")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def enqueue_on_commit(task, *args, **kwargs) -> None:
    """Send a task after the current transaction commits, never failing the caller's request.

    If the broker is unreachable the message is dropped with a warning: the database already holds
    the state the task acts on, and the periodic sweeps pick it up when the broker is back.
    Only broker/connection errors are swallowed; a bug inside an eager task still raises.
    """
    import logging

    from django.db import transaction
    from kombu.exceptions import OperationalError as KombuOperationalError

    def send() -> None:
        try:
            task.apply_async(args=args, kwargs=kwargs)
        except (KombuOperationalError, ConnectionError, OSError) as exc:
            logging.getLogger("oms.tasks").warning("Could not enqueue %s%s: %s", task.name, args, exc)

    transaction.on_commit(send)
