"""Fixtures of the allocation tests: a real Celery worker on Redis running the project's tasks."""

from __future__ import annotations

import pytest


@pytest.fixture
def allocation_worker(celery_worker_run):
    """``with allocation_worker():`` runs a Celery worker (thread pool of 2, so duplicates run at once) on Redis."""
    return lambda: celery_worker_run(pool="threads", concurrency=2)
