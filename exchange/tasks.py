"""Celery tasks of exchange: take ids, load, call a service."""

from __future__ import annotations

from celery import shared_task

from core.queue import DB_RETRY


@shared_task(acks_late=True, **DB_RETRY)
def import_job_process(job_id: int) -> str:
    """Run one import job (idempotent: a job already started or finished is left alone)."""
    from .imports import import_job_run

    return import_job_run(job_id=job_id).status


@shared_task(acks_late=True)
def import_jobs_sweep() -> int:
    """Every few minutes: re-send jobs whose message was lost (broker down), close jobs whose worker died."""
    from .imports import import_jobs_recover

    return import_jobs_recover()
