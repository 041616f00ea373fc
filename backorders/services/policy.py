"""The allocation policy: which one is active, a customer's score under it, re-scoring the waiting queue."""

from __future__ import annotations

from django.db import transaction

from inventory.locks import stock_items_lock_for_products

from ..models import AllocationPolicy, Backorder
from .requests import allocation_request_for_products, eta_request


def policy_active() -> AllocationPolicy:
    policy = AllocationPolicy.objects.filter(is_active=True).first()
    if policy is None:
        policy, _ = AllocationPolicy.objects.get_or_create(
            name="Default", defaults={"is_active": not AllocationPolicy.objects.filter(is_active=True).exists()}
        )
    return policy


def _score_expression(policy: AllocationPolicy):
    """The policy's score of a customer, as a database expression (AllocationPolicy.score, set-based)."""
    from decimal import Decimal

    from django.db.models import Case, DecimalField, F, Value, When
    from django.db.models.functions import Least, Round

    money = DecimalField(max_digits=14, decimal_places=4)
    tier = Case(
        *[When(tier=name, then=Value(policy.tier_weight(name))) for name in ("standard", "silver", "gold", "platinum")],
        default=Value(Decimal("0")),
        output_field=money,
    )
    ltv = Least(
        F("lifetime_value") * Value(policy.lifetime_value_weight) / Value(Decimal(1000)),
        Value(policy.lifetime_value_cap),
        output_field=money,
    )
    return Round(tier + ltv, 4, output_field=money)


@transaction.atomic
def policy_scores_recompute(*, policy: AllocationPolicy | None = None, customer_ids=None) -> int:
    """Re-score every waiting backorder (or those of ``customer_ids``) with the active policy (one UPDATE); the
    queues follow at once.

    Returns the number of backorders re-scored. Allocation and ETAs of the affected products are re-run after commit.
    """
    from django.db.models import OuterRef, Subquery

    from orders.models import Customer

    policy = policy or policy_active()
    score = Customer.objects.filter(orders=OuterRef("order_id")).annotate(s=_score_expression(policy)).values("s")[:1]
    waiting = Backorder.objects.filter(status__in=Backorder.WAITING)
    if customer_ids is not None:
        waiting = waiting.filter(order__customer_id__in=list(customer_ids))
    product_ids = set(waiting.values_list("product_id", flat=True).distinct())
    # The stock locks first, like every writer of a queue (allocation, intake, reallocation): without them this
    # UPDATE and an allocation run could lock the same backorders in opposite orders and deadlock.
    stock_items_lock_for_products(product_ids)
    count = waiting.update(priority_score=Subquery(score))
    allocation_request_for_products(product_ids=product_ids)
    eta_request(product_ids=product_ids)
    return count


@transaction.atomic
def policy_activate(*, policy: AllocationPolicy) -> AllocationPolicy:
    """Make this policy the active one (retiring the previous) and re-score the waiting queue."""
    AllocationPolicy.objects.select_for_update().filter(is_active=True).exclude(pk=policy.pk).update(is_active=False)
    if not policy.is_active:
        policy.is_active = True
        policy.save(update_fields=["is_active", "updated_at"])
    policy_scores_recompute(policy=policy)
    return policy
