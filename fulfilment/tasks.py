"""Celery tasks of fulfilment: act on the database state (idempotent), nothing else."""

from __future__ import annotations

from celery import shared_task


@shared_task(acks_late=True)
def terms_auto_cancel() -> int:
    """Daily: waiting units past the customer's ``auto_cancel_after_days`` are cancelled (terms_expired)."""
    from .services.terms import backorders_cancel_expired

    return backorders_cancel_expired()


@shared_task(acks_late=True)
def lots_expiry_sweep() -> int:
    """Daily: lots expired or under their product's minimum shelf life are quarantined (docs/lots.md)."""
    from .services.lots import lots_quarantine_due

    return lots_quarantine_due()
