"""Shared fixtures. Tests run on whatever DATABASE_URL says (PostgreSQL in CI, SQLite by default)."""

from __future__ import annotations

import pytest
from django.db import connection
from rest_framework.test import APIClient

from fulfilment.services import LineRequest, order_place
from inventory.services import stock_adjust
from orders.services import CustomerData, api_key_create
from tests.inventory.factories import ProductFactory, WarehouseFactory
from tests.orders.factories import CustomerFactory


def _hypothesis_profiles() -> None:
    """On CI (CI=true) the generated-input tests replay the same examples every run: a landing must not depend on
    the draw. Locally they draw afresh each run, which is how new cases are found."""
    import os

    from hypothesis import settings

    settings.register_profile("ci", derandomize=True, database=None)
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        settings.load_profile("ci")


_hypothesis_profiles()


def pytest_collection_modifyitems(config, items):
    from django.db import connections

    vendor = connections["default"].vendor
    skip_pg = pytest.mark.skip(reason="needs PostgreSQL (set DATABASE_URL=postgres://…)")
    for item in items:
        if "postgres" in item.keywords and vendor != "postgresql":
            item.add_marker(skip_pg)


@pytest.fixture
def is_postgres() -> bool:
    return connection.vendor == "postgresql"


@pytest.fixture
def warehouse(db):
    return WarehouseFactory(code="MAIN", name="Main warehouse")


@pytest.fixture
def make_product(db, warehouse):
    """A product with ``stock`` units on hand in the main warehouse (through a ledger adjustment)."""

    def make(stock: int = 0, **kwargs):
        product = ProductFactory(**kwargs)
        if stock:
            stock_adjust(sku=product.sku, warehouse_code=warehouse.code, quantity=stock, reason="initial count")
        return product

    return make


@pytest.fixture
def customer(db):
    return CustomerFactory()


@pytest.fixture
def place(db):
    """Place an order through the service: place({"SKU": qty}, ship_policy=..., customer=...)."""

    def place_order(lines: dict[str, int], *, customer=None, **kwargs):
        channel = kwargs.get("channel")
        if customer is not None and channel is not None and customer.channel_id != channel.pk:
            # Customers belong to one channel: a test's customer placing through a channel is that channel's.
            customer.channel = channel
            customer.save(update_fields=["channel"])
        data = (
            # The tier is staff's: sent only for orders placed without a channel (as staff may).
            CustomerData(customer.external_id, customer.email, customer.name, None if channel else customer.tier)
            if customer is not None
            else CustomerData("c-default", "default@example.com", "Default Customer")
        )
        result = order_place(customer=data, lines=[LineRequest(sku, q) for sku, q in lines.items()], **kwargs)
        return result.order

    return place_order


def role_group(name: str):
    """The role's group (core/roles.py). The data migration creates it; a transactional test's flush empties the
    table, so it is written again here when missing."""
    from django.contrib.auth.models import Group

    from core.roles import roles_sync

    if not Group.objects.filter(name=name).exists():
        roles_sync()
    return Group.objects.get(name=name)


@pytest.fixture
def staff_user(django_user_model):
    """A staff member in the "Admin" role: may do every staff action (but is no superuser)."""
    user = django_user_model.objects.create_user("staff", "staff@example.com", "staff-pass", is_staff=True)
    user.groups.add(role_group("Admin"))
    return user


@pytest.fixture
def staff_client(staff_user):
    client = APIClient()
    client.force_authenticate(staff_user)
    return client


@pytest.fixture
def bare_staff_user(django_user_model):
    """Staff with no role and no permission: may read, may not act."""
    return django_user_model.objects.create_user("bare", "bare@example.com", "bare-pass", is_staff=True)


@pytest.fixture
def bare_staff_client(bare_staff_user):
    client = APIClient()
    client.force_authenticate(bare_staff_user)
    return client


@pytest.fixture
def anon_client():
    return APIClient()


@pytest.fixture
def channel_key(db):
    api_key, raw = api_key_create(channel_code="web-shop")
    return api_key.channel, raw


@pytest.fixture
def channel_client(channel_key):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {channel_key[1]}")
    return client


@pytest.fixture
def other_channel_client(db):
    _, raw = api_key_create(channel_code="b2b-portal")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    return client


@pytest.fixture(autouse=True)
def _celery_eager_unless_worker(request):
    """Tasks run in-process unless the test is marked ``worker`` (then a real worker on Redis runs them)."""
    from config.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = "worker" not in request.keywords
    yield
    app.conf.task_always_eager = previous


@pytest.fixture(autouse=True)
def _per_process_cache_forgotten():
    """Rate-limit windows and cached reads do not outlive a test. SQLite gives a rolled-back test's ids again to the
    next test (PostgreSQL's sequences never do), so an API key of the same id would inherit the last test's counts.
    Only the per-process cache is cleared: a shared Redis cache (CACHE_URL) is never flushed by the suite."""
    yield
    from django.core.cache import caches
    from django.core.cache.backends.locmem import LocMemCache

    if isinstance(caches["default"], LocMemCache):
        caches["default"].clear()


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    """Tests create users all the time; the production hasher (1M PBKDF2 rounds) would dominate their run time."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def celery_worker_run(transactional_db):
    """``with celery_worker_run(pool=..., concurrency=...):`` runs a real Celery worker (threads of this
    process) on the Redis broker. Tests that use it are marked ``worker`` (so tasks are not eager)."""
    from contextlib import contextmanager

    from celery.contrib.testing.worker import start_worker
    from celery.signals import task_postrun
    from django.conf import settings as django_settings
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
    def run(*, pool: str = "solo", concurrency: int = 1, shutdown_timeout: float = 15):
        with start_worker(
            app,
            pool=pool,
            concurrency=concurrency,
            perform_ping_check=False,
            loglevel="WARNING",
            shutdown_timeout=shutdown_timeout,
        ):
            yield

    yield run
    task_postrun.disconnect(close_connections)
    app.control.purge()


@pytest.fixture
def broker_down():
    """Inside ``with broker_down():`` every publish is refused (nothing listens on port 1), as when Redis is
    down. Tests that use it are marked ``worker`` so tasks are published, not run eagerly."""
    from contextlib import contextmanager

    from config.celery import app

    def point_at(read_url, write_url):
        app.conf.broker_url, app.conf.broker_write_url = read_url, write_url
        # Forget the cached pools so the next publish connects to the URL now configured.
        app._pool = None
        app.amqp._producer_pool = None

    @contextmanager
    def down():
        previous = (app.conf.broker_url, app.conf.broker_write_url)
        point_at("redis://127.0.0.1:1/0", "redis://127.0.0.1:1/0")
        try:
            yield
        finally:
            point_at(*previous)

    return down


@pytest.fixture
def published(monkeypatch):
    """Record every task published (and still publish it, to the real broker)."""
    from notifications.tasks import notification_send, notifications_relay

    calls = []
    for task in (notification_send, notifications_relay):
        original = task.apply_async

        def record(*args, _task=task, _original=original, **kwargs):
            calls.append((_task.name, kwargs.get("countdown")))
            return _original(*args, **kwargs)

        monkeypatch.setattr(task, "apply_async", record)
    return calls


@pytest.fixture
def redis_broker():
    from django.conf import settings as django_settings

    from config.celery import app

    if not django_settings.CELERY_BROKER_URL:
        pytest.skip("needs a Redis broker (set CELERY_BROKER_URL=redis://…)")
    app.control.purge()
    yield
    app.control.purge()


@pytest.fixture
def held_elsewhere():
    """``with held_elsewhere(fn):`` runs ``fn`` in a transaction on another connection (a thread) and keeps that
    transaction open, with every lock ``fn`` took, until the block exits. For lock-order tests on PostgreSQL."""
    import threading
    from contextlib import contextmanager

    from django.db import connections, transaction

    @contextmanager
    def hold(fn):
        holding, release = threading.Event(), threading.Event()
        errors: list[Exception] = []

        def run():
            try:
                with transaction.atomic():
                    fn()
                    holding.set()
                    release.wait(30)
            except Exception as exc:  # re-raised in the test below
                errors.append(exc)
                holding.set()
            finally:
                connections.close_all()

        thread = threading.Thread(target=run)
        thread.start()
        assert holding.wait(30), "the other transaction never took its locks"
        try:
            assert errors == []
            yield
        finally:
            release.set()
            thread.join(30)

    return hold


@pytest.fixture
def lock_timeout():
    """``with lock_timeout("2s"):`` a transaction whose lock waits fail (OperationalError) instead of hanging."""
    from contextlib import contextmanager

    from django.db import transaction

    @contextmanager
    def limited(value: str):
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = %s", [value])
            yield

    return limited
