"""Why a backorder is where it is in its product's queue, in named terms (reads only; docs/promises.md).

The queue order is priority class, then score, then the time the order was placed, then the backorder number
(``backorders.queue``). The score is the active policy's tier weight plus its customer-value points (capped). A
staff priority override and an SLA breach act through the priority class. Each term is named with its value and
what it contributes; ``ahead`` says how many waiting backorders come first and for which reason.
"""

from __future__ import annotations

from decimal import Decimal

from django.db.models import Count, Q
from django.utils import timezone

from .models import PRIORITY_RANKS, Backorder
from .services import policy_active

PRIORITY_WORDS = {"critical": "critical order", "high": "high-priority order", "normal": "normal order",
                  "low": "low-priority order"}  # fmt: skip


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def queue_explanation(backorder: Backorder) -> dict:
    """``position`` (None when not waiting), ``summary`` ("3rd in line: critical order, placed 12 days ago"), the
    named ``terms`` and the counts ``ahead`` by reason. Two queries (the policy, the counts)."""
    customer = backorder.order.customer
    policy = policy_active()
    tier_points = policy.tier_weight(customer.tier)
    value_points = min(
        policy.lifetime_value_weight * (customer.lifetime_value / Decimal(1000)), policy.lifetime_value_cap
    )
    days = (timezone.now() - backorder.placed_at).days
    value = customer.lifetime_value
    cap = policy.lifetime_value_cap
    when = "placed {} day{} ago".format(days, "s" if days != 1 else "")
    terms = [
        _term("priority_class", backorder.priority, None,
              f"{PRIORITY_WORDS.get(backorder.priority, backorder.priority)} (served before every lower class)"),
        _term("tier", customer.tier, tier_points, f"{customer.tier} customer: {tier_points:g} points"
              f" under policy “{policy.name}”"),
        _term("customer_value", str(value), value_points,
              f"lifetime value {value}: {value_points:.2f} points (capped at {cap:g})"),
        _term("waiting_time", backorder.placed_at.isoformat(), None,
              f"{when} (earlier orders go first at equal priority and score)"),
    ]  # fmt: skip
    if backorder.sla_due_at is not None:
        due_days = (backorder.sla_due_at - timezone.now()).days
        detail = (
            "SLA breached: ship-by date passed, priority raised by the policy"
            if backorder.sla_breached
            else f"ship-by {backorder.sla_due_at:%Y-%m-%d} ({due_days} days left)"
        )
        terms.append(_term("sla_urgency", backorder.sla_due_at.isoformat(), None, detail))
    terms.append(
        _term("score", str(backorder.priority_score), backorder.priority_score,
              "tier + customer value, as stored when the order was placed or last re-scored")
    )  # fmt: skip
    position, ahead = None, {"higher_priority": 0, "higher_score": 0, "placed_earlier": 0}
    if backorder.status in Backorder.WAITING:
        same_rank = Q(priority_rank=backorder.priority_rank)
        same_score = same_rank & Q(priority_score=backorder.priority_score)
        counts = Backorder.objects.filter(product_id=backorder.product_id, status__in=Backorder.WAITING).aggregate(
            higher_priority=Count("id", filter=Q(priority_rank__gt=backorder.priority_rank)),
            higher_score=Count("id", filter=same_rank & Q(priority_score__gt=backorder.priority_score)),
            placed_earlier=Count(
                "id",
                filter=same_score
                & (Q(placed_at__lt=backorder.placed_at) | Q(placed_at=backorder.placed_at, pk__lt=backorder.pk)),
            ),
        )
        ahead = {key: counts[key] or 0 for key in ahead}
        position = sum(ahead.values()) + 1
    summary = _summary(backorder, position, days, terms)
    return {"position": position, "summary": summary, "terms": terms, "ahead": ahead}


def _term(name: str, value, points, detail: str) -> dict:
    return {
        "name": name,
        "value": value,
        "points": None if points is None else str(Decimal(points).quantize(Decimal("0.01"))),
        "detail": detail,
    }


def _summary(backorder: Backorder, position: int | None, days: int, terms: list[dict]) -> str:
    parts = [PRIORITY_WORDS.get(backorder.priority, backorder.priority)]
    tier = next(t for t in terms if t["name"] == "tier")
    if Decimal(tier["points"]) > 0:
        parts.append(f"{tier['value']} customer")
    if backorder.sla_breached:
        parts.append("SLA breached")
    parts.append(f"placed {days} day{'s' if days != 1 else ''} ago")
    where = f"{ordinal(position)} in line" if position is not None else "Not waiting"
    return f"{where}: {', '.join(parts)}"


__all__ = ["PRIORITY_RANKS", "ordinal", "queue_explanation"]
