"""Celery tasks of the dashboard."""

from __future__ import annotations

from celery import shared_task


# The name is the one beat's stored schedule rows (django-celery-beat) already hold from before the dashboard had
# its own app: renaming it would leave those rows pointing at a task no worker knows.
@shared_task(acks_late=True, name="backorders.tasks.dashboard_overview_refresh")
def dashboard_overview_refresh() -> list[int]:
    """Recompute the staff overview of every period into the shared cache, so page views never compute it."""
    from .metrics import PERIODS
    from .selectors import overview_refresh

    for days in PERIODS:
        overview_refresh(days=days)
    return list(PERIODS)
