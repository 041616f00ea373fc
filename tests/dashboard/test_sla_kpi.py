"""The SLA-breach KPI and the queue's SLA filter and "due soonest" sort, against a hand-built fixture."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from backorders.models import Backorder
from dashboard import metrics

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


@pytest.fixture
def four_backorders(make_product, place):
    make_product(sku="A-1", stock=0)
    orders = [place({"A-1": 1}) for _ in range(4)]
    now = timezone.now()
    backorders = [Backorder.objects.get(order=o) for o in orders]
    # 0: swept breach; 1: due in the past, not yet swept; 2: due in 3 days; 3: no SLA.
    Backorder.objects.filter(pk=backorders[0].pk).update(sla_due_at=now - timedelta(days=2), sla_breached=True)
    Backorder.objects.filter(pk=backorders[1].pk).update(sla_due_at=now - timedelta(hours=1))
    Backorder.objects.filter(pk=backorders[2].pk).update(sla_due_at=now + timedelta(days=3))
    return backorders


def test_kpi_counts_waiting_backorders_past_their_ship_by_date(four_backorders):
    assert metrics.sla_breaches(now=timezone.now()) == 2
    Backorder.objects.filter(pk=four_backorders[0].pk).update(status="cancelled", quantity_cancelled=1)
    assert metrics.sla_breaches(now=timezone.now()) == 1  # a closed backorder no longer counts
    card = {k.key: k for k in metrics.kpis(days=30)}["sla_breaches"]
    assert card.value == 1


def test_queue_filters_and_sorts_by_sla(four_backorders, staff_client, client, staff_user):
    client.force_login(staff_user)
    html = client.get("/backorders/?sla=breached").content.decode()
    assert f"BO-{four_backorders[0].pk}<" in html and f"BO-{four_backorders[1].pk}<" not in html
    html = client.get("/backorders/?sort=sla").content.decode()
    positions = [html.index(f"BO-{b.pk}<") for b in four_backorders]
    assert positions[0] < positions[1] < positions[2] < positions[3]
    api = staff_client.get("/api/v1/backorders/?sla_breached=true").json()
    assert [row["id"] for row in api["results"]] == [four_backorders[0].pk]
    api = staff_client.get("/api/v1/backorders/?ordering=sla_due_at&has_sla=true").json()
    assert [row["id"] for row in api["results"]] == [b.pk for b in four_backorders[:3]]
