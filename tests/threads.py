"""Run a function in several threads at once (real connections each), for the PostgreSQL concurrency tests."""

from __future__ import annotations

import threading
import traceback

from django.db import connections


def run_threads(count: int, target, timeout: float = 120) -> list[Exception]:
    """Start ``count`` threads on a barrier, each running ``target(index)``; returns the errors they raised."""
    barrier = threading.Barrier(count)
    errors: list[Exception] = []

    def worker(index):
        try:
            barrier.wait()
            target(index)
        except Exception as exc:  # returned to the test: any error fails it
            traceback.print_exc()  # shown with the failure (pytest captures it): where the thread raised
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    assert not any(thread.is_alive() for thread in threads), "a thread hung (deadlock?)"
    return errors
