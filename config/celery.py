import os

from celery import Celery
from celery.signals import worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("oms")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_ready.connect(dispatch_uid="oms.pending_work_on_worker_start")
def pending_work_on_worker_start(sender=None, **kwargs) -> None:
    """A worker that starts (after a crash, a deploy) re-sends every pending allocation and ETA request at once,
    rather than waiting for beat: what its predecessor was doing when it died resumes in seconds. Sent as a task
    (this runs in the worker's main process, which must not open a database connection its pool would inherit)."""
    try:
        app.send_task("backorders.tasks.pending_work_sweep", kwargs={"on_worker_start": True})
    except Exception as exc:  # the broker went away again: beat's sweep will do it
        import logging

        logging.getLogger("oms.tasks").warning("Could not send the pending-work sweep on worker start: %s", exc)
