"""Sending Celery tasks from a service: only after the transaction commits, never failing the caller."""

from __future__ import annotations

import logging

from django.db import InterfaceError, OperationalError, transaction

logger = logging.getLogger("oms.tasks")

# A task that meets one of these lost its database connection (a restart, a failover, a terminated backend) or a
# lock wait: it is retried with backoff (``autoretry_for=DB_CONNECTION_ERRORS``), never left failed. Celery's Django
# fixup closes the broken connection after the task, so the retry opens a new one.
DB_CONNECTION_ERRORS = (OperationalError, InterfaceError)
DB_RETRY = {
    "autoretry_for": DB_CONNECTION_ERRORS,
    "retry_backoff": True,
    "retry_backoff_max": 60,
    "retry_jitter": True,
    "max_retries": 8,
}


def enqueue_on_commit(task, *args, **kwargs) -> None:
    """Send a task after the current transaction commits, never failing the caller's request.

    If the broker is unreachable the message is dropped with a warning: the database already holds
    the state the task acts on, and the periodic sweeps pick it up when the broker is back.
    Only broker/connection errors are swallowed; a bug inside an eager task still raises.
    """
    from kombu.exceptions import OperationalError as KombuOperationalError

    def send() -> None:
        try:
            task.apply_async(args=args, kwargs=kwargs)
        except (KombuOperationalError, ConnectionError, OSError) as exc:
            logger.warning("Could not enqueue %s%s: %s", task.name, args, exc)

    transaction.on_commit(send)
