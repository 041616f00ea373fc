"""Celery tasks of fulfilment: act on the database state (idempotent), nothing else."""

from __future__ import annotations

from celery import shared_task


@shared_task(acks_late=True)
def terms_auto_cancel() -> int:
    """Daily: waiting units past the customer's ``auto_cancel_after_days`` are cancelled (terms_expired)."""
    from .services.terms import backorders_cancel_expired

    return backorders_cancel_expired()
