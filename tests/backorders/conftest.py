"""Fixtures of the allocation tests: a real Celery worker on Redis running the project's tasks."""

from __future__ import annotations

from contextlib import contextmanager

import pytest
from django.conf import settings as django_settings


@pytest.fixture
def allocation_worker(transactional_db):
    """``with allocation_worker():`` runs a Celery worker (thread pool of 2, so duplicates run at once) on Redis."""
    from celery.contrib.testing.worker import start_worker
    from celery.signals import task_postrun
    from django.db import connections

    from config.celery import app

    if not django_settings.CELERY_BROKER_URL:
        pytest.skip("needs a Redis broker (set CELERY_BROKER_URL=redis://…)")
    assert not app.conf.task_always_eager, "mark the test with @pytest.mark.worker"

    def close_connections(**kwargs):
        # Each worker thread opens its own database connection; close it so the test database can be flushed.
        connections.close_all()

    task_postrun.connect(close_connections, weak=False)
    app.control.purge()

    @contextmanager
    def run():
        with start_worker(
            app, pool="threads", concurrency=2, perform_ping_check=False, loglevel="WARNING", shutdown_timeout=15
        ):
            yield

    yield run
    task_postrun.disconnect(close_connections)
    app.control.purge()
