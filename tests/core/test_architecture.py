"""The layer contract and its domain events: what the architecture page (docs/architecture.md) promises."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from backorders import signals as backorder_signals
from inventory import signals as inventory_signals
from orders import signals as order_signals

ROOT = Path(__file__).resolve().parents[2]


def _receivers(signal) -> set[str]:
    """The dotted names of a signal's live receivers (for any sender)."""
    sync, async_ = signal._live_receivers(None)
    return {f"{receiver.__module__}.{receiver.__qualname__}" for receiver in [*sync, *async_]}


@pytest.mark.parametrize(
    ("signal", "expected"),
    [
        (inventory_signals.stock_added, {"backorders.receivers.allocate_added_stock"}),
        (inventory_signals.product_unavailable, {"fulfilment.receivers.cancel_waiting_units"}),
        (inventory_signals.stock_availability_changed, {"backorders.receivers.reoffer_changed_stock"}),
        (order_signals.customer_tier_changed, {"backorders.receivers.rescore_customer"}),
        (backorder_signals.backorder_events_recorded, {"notifications.receivers.outbox_for_backorder_events"}),
        (backorder_signals.eta_events_recorded, {"notifications.receivers.outbox_for_eta_events"}),
        (backorder_signals.allocation_events_recorded, {"notifications.receivers.batch_for_allocation_events"}),
        (order_signals.regular_updates_declined, {"notifications.receivers.preference_for_declined_updates"}),
    ],
    ids=[
        "stock_added",
        "product_unavailable",
        "stock_availability_changed",
        "customer_tier_changed",
        "backorder_events_recorded",
        "eta_events_recorded",
        "allocation_batch",
        "regular_updates_declined",
    ],
)
def test_each_domain_event_has_exactly_its_receivers(signal, expected):
    assert _receivers(signal) == expected


def test_supply_sources_are_transfers_and_purchase_orders():
    """Backorders registers inventory's transfers in transit (below it); suppliers its purchase orders (above it)."""
    from backorders.supply import supply_sources

    assert sorted(source.name for source in supply_sources()) == ["purchase_orders", "transfers"]


def test_every_beat_schedule_entry_names_a_registered_task():
    from config.celery import app

    app.loader.import_default_modules()
    registered = set(app.tasks)
    for name, entry in settings.CELERY_BEAT_SCHEDULE.items():
        assert entry["task"] in registered, f"beat entry {name!r} names unknown task {entry['task']!r}"


@pytest.mark.django_db
def test_every_stored_beat_row_names_a_registered_task():
    """django-celery-beat keeps its schedule in the database: rows written before a task moved must still run."""
    from django_celery_beat.models import PeriodicTask
    from django_celery_beat.schedulers import ModelEntry

    from config.celery import app

    app.loader.import_default_modules()
    for name, entry in settings.CELERY_BEAT_SCHEDULE.items():  # what beat does on start: the settings' entries → rows
        ModelEntry.from_entry(name, app=app, **entry)
    stored = set(PeriodicTask.objects.values_list("task", flat=True))
    assert stored, "beat stored no schedule rows"
    assert stored <= set(app.tasks)


def test_no_task_shares_its_name_with_the_function_it_calls():
    from backorders import allocation, tasks

    assert not hasattr(allocation, tasks.allocate_product.__name__)


def test_the_layer_contract_holds():
    result = subprocess.run(
        [str(Path(sys.executable).parent / "lint-imports")], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout[-3000:]


def test_no_production_module_is_over_400_lines():
    apps = ["core", "inventory", "orders", "backorders", "fulfilment", "suppliers", "notifications", "dashboard"]
    long = {
        str(path.relative_to(ROOT)): n
        for app in apps
        for path in (ROOT / app).rglob("*.py")
        if "migrations" not in path.parts and (n := len(path.read_text().splitlines())) > 400
    }
    assert long == {}


def test_stock_counters_are_written_only_by_inventory():
    """Every change to StockItem.on_hand/allocated goes through inventory (counters, services)."""
    needles = ('allocated=F("allocated")', 'on_hand=F("on_hand")', "SET allocated", "SET on_hand")
    offenders = []
    for app in ["orders", "backorders", "fulfilment", "suppliers", "notifications", "dashboard"]:
        for path in (ROOT / app).rglob("*.py"):
            text = path.read_text()
            if any(needle in text for needle in needles):
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_the_queue_order_is_defined_once():
    """Queue order spelled out by hand anywhere but its definition would drift from it."""
    spelled = ('"-priority_rank", "-priority_score"', "priority_rank DESC, priority_score DESC")
    allowed = {ROOT / "backorders" / "models.py", ROOT / "backorders" / "queue.py"}
    offenders = []
    for app in ["inventory", "orders", "backorders", "fulfilment", "suppliers", "notifications", "dashboard"]:
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            text = path.read_text()
            if any(needle in text for needle in spelled) and path not in allowed:
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []
