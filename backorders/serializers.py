"""API v1 serializers of backorders (output only for now; action inputs are added next to them)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.serializer_rows import ValuesRenderer
from notifications.selectors import notifications_for_backorder
from notifications.serializers import NotificationSummaryOutput, notifications_summary

from .explain import queue_explanation
from .models import Backorder, BackorderEvent
from .substitutes import alternatives_for_products


class AlternativeOutput(serializers.Serializer):
    sku = serializers.CharField()
    name = serializers.CharField()
    unit_price = serializers.DecimalField(max_digits=12, decimal_places=2)
    available = serializers.IntegerField(help_text="Units free to sell now.")


class BackorderCustomerOutputSerializer(serializers.Serializer):
    external_id = serializers.CharField()
    email = serializers.EmailField()
    name = serializers.CharField()
    tier = serializers.CharField()


class BackorderOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    order = serializers.CharField(source="order.number")
    channel = serializers.CharField(source="order.channel.code", allow_null=True, default=None)
    sku = serializers.CharField(source="product.sku")
    status = serializers.ChoiceField(choices=Backorder.Status.choices)
    quantity = serializers.IntegerField(help_text="Units that went on backorder.")
    quantity_allocated = serializers.IntegerField(help_text="Units reserved for it since.")
    quantity_cancelled = serializers.IntegerField()
    quantity_outstanding = serializers.IntegerField(help_text="Units still waiting for stock.")
    priority = serializers.CharField()
    priority_score = serializers.DecimalField(max_digits=14, decimal_places=4)
    queue_position = serializers.IntegerField(
        allow_null=True, help_text="1-based place in the product's allocation queue; null when not waiting."
    )
    eta = serializers.DateField(
        allow_null=True,
        help_text="The promise: the date by which the units arrive in the service level's share (90 %) of similar past"
        " cases; the expected date itself when there is too little history (eta_basis says which).",
    )
    eta_basis = serializers.ChoiceField(choices=Backorder.EtaBasis.choices)
    eta_expected = serializers.DateField(
        allow_null=True,
        help_text="The supplier's word: the covering purchase order's date, or today + quoted lead time.",
    )
    eta_confidence = serializers.FloatField(
        allow_null=True,
        help_text="Share of similar past cases in which a date set this way held (null: not measured).",
    )
    sla_due_at = serializers.DateTimeField(allow_null=True, help_text="Ship-by date from the customer's terms.")
    sla_breached = serializers.BooleanField(help_text="Still waiting when its ship-by date passed.")
    reason = serializers.ChoiceField(choices=Backorder.Reason.choices)
    placed_at = serializers.DateTimeField()
    created_at = serializers.DateTimeField()
    allocated_at = serializers.DateTimeField(allow_null=True)
    fulfilled_at = serializers.DateTimeField(allow_null=True)
    cancelled_at = serializers.DateTimeField(allow_null=True)
    customer = BackorderCustomerOutputSerializer(source="order.customer")
    updated_at = serializers.DateTimeField(help_text="Last change of this record (what ?updated_since= filters on).")


def backorder_list_renderer() -> ValuesRenderer:
    """``BackorderOutputSerializer`` for rows of ``.values(*renderer.lookups)`` (a long page without building 2,500
    model instances; tests/backorders/test_api.py proves the output equal). The rows carry ``product_id`` for the
    queue positions and get ``queue_position`` set (``selectors.queue_positions_set_rows``)."""
    return ValuesRenderer(
        BackorderOutputSerializer,
        computed={
            "quantity_outstanding": lambda row: Backorder.outstanding(
                row["quantity"], row["quantity_allocated"], row["quantity_cancelled"]
            ),
            "queue_position": lambda row: row["queue_position"],
        },
        extra_lookups=("id", "product_id", "status"),
    )


# What staff typed (reasons for a priority change, a reallocation or a cancellation) and who they are stay on the staff
# side: a sales channel sees the event, its quantities and dates, and "staff" as the actor.
_STAFF_ONLY_DATA = ("reason", "reallocated_from", "reallocated_to", "policy")


def _public_actor(actor: str) -> str:
    return actor if actor in ("system", "customer") or actor.startswith("channel:") else "staff"


def _public_message(event: dict) -> str:
    kind, quantity, data = event["kind"], event["quantity"], event["data"] or {}
    if kind == BackorderEvent.Kind.PRIORITY_CHANGED:
        return f"Priority changed from {data.get('old')} to {data.get('new')}."
    if kind == BackorderEvent.Kind.DEALLOCATED:
        return f"{quantity} reserved unit(s) moved to a more urgent backorder."
    if "reallocated_from" in data:
        return f"{quantity} unit(s) reallocated from lower-priority backorders."
    if kind == BackorderEvent.Kind.CANCELLED and data.get("reason"):
        return f"{quantity} waiting unit(s) cancelled."
    return event["message"]


class BackorderEventOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=BackorderEvent.Kind.choices)
    quantity = serializers.IntegerField(allow_null=True)
    message = serializers.CharField()
    data = serializers.JSONField()
    actor = serializers.CharField(help_text='"system", "customer", "channel:<code>"; a sales channel sees "staff".')
    created_at = serializers.DateTimeField()

    def to_representation(self, instance):
        event = super().to_representation(instance)
        if self.context.get("for_channel"):
            if event["actor"] not in ("system", "customer") and not event["actor"].startswith("channel:"):
                event["message"] = _public_message(event)
            event["actor"] = _public_actor(event["actor"])
            event["data"] = {k: v for k, v in (event["data"] or {}).items() if k not in _STAFF_ONLY_DATA}
        return event


class QueueTermOutput(serializers.Serializer):
    name = serializers.ChoiceField(
        choices=["priority_class", "tier", "customer_value", "waiting_time", "sla_urgency", "score"]
    )
    value = serializers.CharField()
    points = serializers.CharField(allow_null=True, help_text="Score points it adds (null: it orders, not scores).")
    detail = serializers.CharField()


class QueueAheadOutput(serializers.Serializer):
    higher_priority = serializers.IntegerField(help_text="Waiting backorders of a higher priority class.")
    higher_score = serializers.IntegerField(help_text="Same class, higher score (tier, customer value).")
    placed_earlier = serializers.IntegerField(help_text="Same class and score, placed earlier.")


class QueueExplanationOutput(serializers.Serializer):
    position = serializers.IntegerField(allow_null=True)
    summary = serializers.CharField(help_text='e.g. "3rd in line: critical order, placed 12 days ago".')
    terms = QueueTermOutput(many=True)
    ahead = QueueAheadOutput()


class BackorderDetailOutputSerializer(BackorderOutputSerializer):
    queue_explanation = serializers.SerializerMethodField(help_text="Why it is where it is in the queue.")
    events = BackorderEventOutputSerializer(many=True, source="events.all")
    alternatives = serializers.SerializerMethodField(help_text="Substitutes in stock now (empty once not waiting).")
    notifications = serializers.SerializerMethodField(help_text="What the customer was told, newest first.")

    @extend_schema_field(AlternativeOutput(many=True))
    def get_alternatives(self, backorder):
        return alternatives_of(backorder, self.context)

    @extend_schema_field(QueueExplanationOutput)
    def get_queue_explanation(self, backorder):
        return queue_explanation(backorder)

    @extend_schema_field(NotificationSummaryOutput(many=True))
    def get_notifications(self, backorder):
        return notifications_summary(notifications_for_backorder(backorder))


def alternatives_of(backorder, context: dict) -> list[dict]:
    """A backorder's in-stock substitutes, computed once for every backorder of its order (no N+1)."""
    if not backorder.is_waiting:
        return []
    cache = context.setdefault("_alternatives_by_product", {})
    if backorder.product_id not in cache:
        siblings = [b.product_id for b in backorder.order.backorders.all() if b.is_waiting]
        cache.update(alternatives_for_products({*siblings, backorder.product_id}))
    return AlternativeOutput(cache[backorder.product_id], many=True).data
