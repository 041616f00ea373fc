import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from backorders.models import Backorder
from fulfilment.integrity import integrity_problems
from suppliers.models import PurchaseOrder

pytestmark = pytest.mark.django_db


def test_seed_demo_loads_a_consistent_story_once(capsys, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):  # the allocation runs that `make run` gets
        call_command("seed_demo", "--if-empty", "--with-demo-login")
    out = capsys.readouterr().out
    assert "username 'admin', password 'admin'" in out
    assert Backorder.objects.filter(status="open").exists()
    assert Backorder.objects.filter(status="allocated").exists()  # a receipt served the queue
    assert Backorder.objects.exclude(eta_basis="none").exists()
    assert PurchaseOrder.objects.filter(status="sent").exists()
    assert integrity_problems() == []
    # Eight weeks of delivered orders: the planning page has a demand history to forecast from.
    from suppliers.planning import replenishment_plan

    plan = replenishment_plan()
    assert sum(1 for row in plan if row["forecast_daily"] > 0) >= 10
    assert any(row["reorder_now"] for row in plan) and any(not row["reorder_now"] for row in plan)
    count = Backorder.objects.count()
    call_command("seed_demo", "--if-empty")
    assert "already present" in capsys.readouterr().out
    assert Backorder.objects.count() == count


def test_bulk_generation_on_sqlite_is_a_clean_error(is_postgres):
    if is_postgres:
        pytest.skip("the bulk generator runs on PostgreSQL; its own tests cover it there")
    with pytest.raises(CommandError, match="PostgreSQL"):
        call_command("seed_demo", "--orders", "10")
