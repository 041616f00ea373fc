"""Output shapes that other apps' API responses embed (order and backorder detail)."""

from __future__ import annotations

from rest_framework import serializers

from .models import Notification


class NotificationSummaryOutput(serializers.ModelSerializer):
    """The short form shown inside order and backorder responses."""

    class Meta:
        model = Notification
        fields = ["id", "event", "channel", "status", "attempts", "last_error", "sent_at", "created_at", "updated_at"]


def notifications_summary(notifications) -> list[dict]:
    return NotificationSummaryOutput(notifications, many=True).data
