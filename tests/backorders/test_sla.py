"""SLA: sla_due_at from the customer's terms; the sweep marks breaches once and raises priority by the policy."""

from __future__ import annotations

from datetime import timedelta

import pytest

from backorders.models import AllocationPolicy, Backorder, BackorderEvent
from backorders.services import backorders_sla_enforce, policy_active
from orders.models import CustomerTerms

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


@pytest.fixture
def sla_order(make_product, place, customer):
    make_product(sku="A-1", stock=0)
    CustomerTerms.objects.create(customer=customer, sla_days=5)
    return place({"A-1": 2}, customer=customer)


def test_breach_marks_once_and_raises_priority_by_the_policy(sla_order):
    backorder = Backorder.objects.get(order=sla_order)
    assert backorder.sla_due_at == sla_order.placed_at + timedelta(days=5)
    assert backorders_sla_enforce(now=backorder.sla_due_at - timedelta(seconds=1)) == 0
    assert backorders_sla_enforce(now=backorder.sla_due_at) == 1
    backorder.refresh_from_db()
    assert backorder.sla_breached is True
    assert (backorder.priority, backorder.priority_rank) == ("high", 2)  # the default policy's rule
    kinds = list(backorder.events.values_list("kind", flat=True))
    assert BackorderEvent.Kind.SLA_BREACHED in kinds and BackorderEvent.Kind.PRIORITY_CHANGED in kinds
    assert backorders_sla_enforce(now=backorder.sla_due_at + timedelta(days=3)) == 0  # idempotent
    assert backorder.events.count() == len(kinds)


def test_policy_rule_can_switch_the_boost_off(sla_order):
    policy = policy_active()
    AllocationPolicy.objects.filter(pk=policy.pk).update(sla_breach_priority="")
    backorder = Backorder.objects.get(order=sla_order)
    assert backorders_sla_enforce(now=backorder.sla_due_at + timedelta(hours=1)) == 1
    backorder.refresh_from_db()
    assert backorder.sla_breached is True and backorder.priority == "normal"


def test_no_terms_no_sla(make_product, place):
    make_product(sku="A-1", stock=0)
    order = place({"A-1": 1})
    backorder = Backorder.objects.get(order=order)
    assert backorder.sla_due_at is None
    assert backorders_sla_enforce(now=order.placed_at + timedelta(days=365)) == 0
