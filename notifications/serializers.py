"""Output shapes that other apps' API responses embed (order and backorder detail)."""

from __future__ import annotations

from rest_framework import serializers

from .models import Notification


class NotificationSummaryOutput(serializers.ModelSerializer):
    """The short form shown inside order and backorder responses."""

    class Meta:
        model = Notification
        fields = ["id", "event", "channel", "status", "attempts", "last_error", "sent_at", "created_at"]


class AlternativeOutput(serializers.Serializer):
    sku = serializers.CharField()
    name = serializers.CharField()
    unit_price = serializers.DecimalField(max_digits=12, decimal_places=2)
    available = serializers.IntegerField(help_text="Units free to sell now.")


def notifications_summary(notifications) -> list[dict]:
    return NotificationSummaryOutput(notifications, many=True).data


def alternatives_of(backorder, context: dict) -> list[dict]:
    """A backorder's in-stock substitutes, computed once for every backorder of its order (no N+1)."""
    from backorders.substitutes import alternatives_for_products

    if not backorder.is_waiting:
        return []
    cache = context.setdefault("_alternatives_by_product", {})
    if backorder.product_id not in cache:
        siblings = [b.product_id for b in backorder.order.backorders.all() if b.is_waiting]
        cache.update(alternatives_for_products({*siblings, backorder.product_id}))
    return AlternativeOutput(cache[backorder.product_id], many=True).data
