"""The deployment files are read, not run (no Docker engine here): check their shape."""

import os
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_compose_has_the_stack_with_healthchecks():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"postgres", "redis", "web", "worker", "beat"} <= set(services)
    for name in ("postgres", "redis", "web", "worker", "beat"):
        assert "healthcheck" in services[name], name
    assert "gunicorn config.wsgi:application" in services["web"]["command"]
    assert services["worker"]["command"][:4] == ["celery", "-A", "config", "worker"]
    assert services["beat"]["command"][:4] == ["celery", "-A", "config", "beat"]
    for name in ("web", "worker", "beat"):
        env = services[name]["environment"]
        assert env["DATABASE_URL"].startswith("postgres://")
        assert env["CELERY_BROKER_URL"].startswith("redis://")
        # One cache for every gunicorn worker and Celery, in its own Redis database (not the broker's).
        assert env["CACHE_URL"].startswith("redis://redis:6379/")
        assert env["CACHE_URL"] != env["CELERY_BROKER_URL"]
        assert services[name]["depends_on"]["postgres"]["condition"] == "service_healthy"


def _settings_in_subprocess(env_overrides: dict) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL", "CACHE_URL")}
    env.update(env_overrides)
    code = (
        "import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE','config.settings'); django.setup();"
        "from django.conf import settings as s; from config.celery import app;"
        "print(s.DATABASES['default']['ENGINE'], app.conf.task_always_eager, s.CACHES['default']['BACKEND'],"
        " s.CACHES['default'].get('LOCATION', '-'), app.conf.broker_url)"
    )
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    ).stdout.strip()


def test_embedded_default_is_sqlite_with_eager_tasks():
    engine, eager, cache_backend = _settings_in_subprocess({}).split(" ")[:3]
    assert engine == "django.db.backends.sqlite3"
    assert eager == "True"
    assert cache_backend == "django.core.cache.backends.locmem.LocMemCache"


def test_environment_switches_to_postgres_and_redis():
    out = _settings_in_subprocess(
        {"DATABASE_URL": "postgres://u@127.0.0.1:5432/x", "CELERY_BROKER_URL": "redis://127.0.0.1:6379/3"}
    )
    engine, eager, cache_backend, _, broker = out.split(" ", 4)
    assert engine == "django.db.backends.postgresql"
    assert eager == "False"
    assert cache_backend == "django.core.cache.backends.locmem.LocMemCache"  # no CACHE_URL: still per process
    assert broker == "redis://127.0.0.1:6379/3"


def test_cache_url_switches_to_a_shared_redis_cache():
    out = _settings_in_subprocess({"CACHE_URL": "redis://127.0.0.1:6379/2"})
    cache_backend, location = out.split(" ")[2:4]
    assert cache_backend == "core.cache.RedisCache"  # Django's, with one client per connection pool
    assert location == "redis://127.0.0.1:6379/2"


def test_beat_refreshes_the_overview_every_minute():
    from django.conf import settings

    entry = settings.CELERY_BEAT_SCHEDULE["dashboard-overview-refresh"]
    assert entry["task"] == "backorders.tasks.dashboard_overview_refresh"
    assert entry["schedule"] == 60.0


def test_every_celery_queue_has_a_worker_in_compose_and_a_plain_worker_consumes_them_all():
    from django.conf import settings

    from config.celery import app

    queues = set(settings.CELERY_TASK_QUEUES)
    assert queues == {"celery", "notifications.email", "notifications.webhook"}
    assert set(app.amqp.queues) == queues  # `celery -A config worker` without -Q consumes each of them
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    consumed = set()
    for name, service in services.items():
        command = service.get("command")
        if isinstance(command, list) and command[:4] == ["celery", "-A", "config", "worker"]:
            assert "-Q" in command and "healthcheck" in service, name
            consumed.add(command[command.index("-Q") + 1])
    assert consumed == queues
