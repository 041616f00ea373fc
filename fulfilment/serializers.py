"""API v1 serializers of orders: strict input serializers, output serializers with lines and backorders."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import EmailValidator
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from backorders.models import Backorder
from backorders.serializers import AlternativeOutput, alternatives_of
from core.api import StrictSerializer
from core.serializer_reuse import reused_fields
from inventory.models import Lot
from notifications.selectors import notifications_for_order
from notifications.serializers import NotificationSummaryOutput, notifications_summary
from orders.models import Customer, Order
from orders.status_links import order_status_url


class CustomerInputSerializer(StrictSerializer):
    external_id = serializers.CharField(max_length=100)
    email = serializers.EmailField(max_length=254)
    name = serializers.CharField(max_length=200)
    tier = serializers.ChoiceField(choices=Customer.Tier.choices, required=False)


def _line_quantity(**kwargs) -> serializers.IntegerField:
    # The limit is a setting (read when the serializer is built, never at import), so the schema states it too.
    return serializers.IntegerField(min_value=1, max_value=settings.OMS["MAX_LINE_QUANTITY"], **kwargs)


class OrderLineInputSerializer(StrictSerializer):
    sku = serializers.CharField(max_length=64)
    quantity = serializers.IntegerField(min_value=1)

    def get_fields(self):
        fields = super().get_fields()
        fields["quantity"] = _line_quantity()
        return fields


class OrderCreateInputSerializer(StrictSerializer):
    customer = CustomerInputSerializer()
    lines = OrderLineInputSerializer(many=True, allow_empty=False)
    ship_policy = serializers.ChoiceField(choices=Order.ShipPolicy.choices, default=Order.ShipPolicy.PARTIAL)
    priority = serializers.ChoiceField(choices=Order.Priority.choices, default=Order.Priority.NORMAL)
    requested_date = serializers.DateField(required=False, allow_null=True, default=None)
    backorder_consent = serializers.ChoiceField(
        choices=[
            ("accept", "Backorder what is short (default)"),
            ("ship_available", "Take what is in stock, drop the rest, no backorder"),
            ("decline", "Refuse the order (409) if anything would be backordered"),
        ],
        default="accept",
        help_text="What the customer agreed to when not everything is in stock (docs/terms.md).",
    )
    allow_split = serializers.BooleanField(
        default=True,
        help_text="false: each line ships whole from one warehouse or waits whole (a checkout choice; a customer "
        "whose allow_split staff turned off is never split, whatever this says). docs/warehouses.md.",
    )

    def get_fields(self):
        fields = super().get_fields()
        limit = settings.OMS["MAX_ORDER_LINES"]
        fields["lines"] = OrderLineInputSerializer(
            many=True,
            allow_empty=False,
            max_length=limit,
            error_messages={"max_length": f"An order may have at most {limit} lines."},
        )
        return fields


_BODY_KEYS = frozenset(("customer", "lines", "ship_policy", "priority", "requested_date", "backorder_consent",
                        "allow_split"))  # fmt: skip
_email_valid = EmailValidator()
_CHOICES = {"ship_policy": frozenset(Order.ShipPolicy.values), "priority": frozenset(Order.Priority.values),
            "backorder_consent": frozenset(("accept", "ship_available", "decline"))}  # fmt: skip
_DEFAULTS = {"ship_policy": Order.ShipPolicy.PARTIAL, "priority": Order.Priority.NORMAL, "requested_date": None,
             "backorder_consent": "accept", "allow_split": True}  # fmt: skip


def _plain_text(value, max_length: int) -> bool:
    # What CharField keeps as it is: a non-empty printable string (no control, format or surrogate characters: so
    # nothing the name and NUL checks refuse) with nothing to trim, within the length.
    return type(value) is str and 0 < len(value) <= max_length and value.isprintable() and value.strip() == value


def order_create_input_fast(data) -> dict | None:
    """``OrderCreateInputSerializer``'s validated data for the everyday body (known keys, plain strings, whole
    numbers in range, the choices' values, no date), checked without DRF's machinery (order intake's hot path);
    None for anything else, which the serializer then checks (and words the errors of). tests/fulfilment/
    test_input_fast.py proves it never accepts what the serializer refuses and gives what the serializer gives."""
    if type(data) is not dict or not data.keys() <= _BODY_KEYS:
        return None
    customer, lines = data.get("customer"), data.get("lines")
    if type(customer) is not dict or customer.keys() != {"external_id", "email", "name"}:
        return None
    if not (_plain_text(customer["external_id"], 100) and _plain_text(customer["name"], 200)):
        return None
    email = customer["email"]
    if not _plain_text(email, 254):
        return None
    try:
        _email_valid(email)
    except DjangoValidationError:
        return None
    max_quantity = settings.OMS["MAX_LINE_QUANTITY"]
    if type(lines) is not list or not 0 < len(lines) <= settings.OMS["MAX_ORDER_LINES"]:
        return None
    for line in lines:
        if type(line) is not dict or line.keys() != {"sku", "quantity"} or not _plain_text(line["sku"], 64):
            return None
        if type(line["quantity"]) is not int or not 0 < line["quantity"] <= max_quantity:
            return None
    result = {**_DEFAULTS, "customer": dict(customer), "lines": [dict(line) for line in lines]}
    for name, allowed in _CHOICES.items():
        if name in data:
            if type(data[name]) is not str or data[name] not in allowed:
                return None
            result[name] = data[name]
    if data.get("requested_date") is not None or ("allow_split" in data and type(data["allow_split"]) is not bool):
        return None
    result["allow_split"] = data.get("allow_split", True)
    return result


class CancelLineInputSerializer(StrictSerializer):
    sku = serializers.CharField(max_length=64)
    quantity = serializers.IntegerField(
        min_value=1, required=False, allow_null=True, default=None, help_text="Omit to cancel every open unit."
    )

    def get_fields(self):
        fields = super().get_fields()
        fields["quantity"] = _line_quantity(
            required=False, allow_null=True, default=None, help_text="Omit to cancel every open unit."
        )
        return fields


class OrderCancelInputSerializer(StrictSerializer):
    lines = CancelLineInputSerializer(
        many=True, required=False, allow_empty=False, help_text="Omit to cancel the whole order."
    )
    reason = serializers.CharField(max_length=200, required=False, default="", allow_blank=True)


class OrderShipInputSerializer(StrictSerializer):
    tracking_reference = serializers.CharField(max_length=100, required=False, default="", allow_blank=True)


# --- output -----------------------------------------------------------------------------------


class CustomerOutputSerializer(serializers.Serializer):
    external_id = serializers.CharField()
    email = serializers.EmailField()
    name = serializers.CharField()
    tier = serializers.CharField()


class OrderLineOutputSerializer(serializers.Serializer):
    sku = serializers.CharField(source="product.sku")
    quantity = serializers.IntegerField()
    allocated = serializers.IntegerField(source="quantity_allocated")
    backordered = serializers.IntegerField(source="quantity_backordered", help_text="Units still waiting for stock.")
    shipped = serializers.IntegerField(source="quantity_shipped")
    cancelled = serializers.IntegerField(source="quantity_cancelled")
    unit_price = serializers.DecimalField(max_digits=12, decimal_places=2)
    at_risk = serializers.BooleanField(
        help_text="Accepted although its expected date is after the requested date or the customer's longest wait."
    )


class OrderBackorderOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    sku = serializers.CharField(source="product.sku")
    status = serializers.ChoiceField(choices=Backorder.Status.choices)
    quantity = serializers.IntegerField()
    quantity_outstanding = serializers.IntegerField()
    eta = serializers.DateField(allow_null=True, help_text="The promise (see the backorder's eta).")
    eta_basis = serializers.ChoiceField(choices=Backorder.EtaBasis.choices)
    eta_expected = serializers.DateField(allow_null=True, help_text="The supplier's word (see the backorder's).")
    eta_confidence = serializers.FloatField(allow_null=True, help_text="Measured confidence (null: not measured).")
    sla_due_at = serializers.DateTimeField(allow_null=True, help_text="Ship-by date from the customer's terms.")
    sla_breached = serializers.BooleanField()
    alternatives = serializers.SerializerMethodField(help_text="Substitutes in stock now (empty once not waiting).")

    @extend_schema_field(AlternativeOutput(many=True))
    def get_alternatives(self, backorder):
        return alternatives_of(backorder, self.context)


class OrderListOutputSerializer(serializers.Serializer):
    number = serializers.CharField()
    external_reference = serializers.CharField(help_text="The order's number in the system it was imported from.")
    status = serializers.ChoiceField(choices=Order.Status.choices)
    channel = serializers.CharField(source="channel.code", allow_null=True, default=None)
    customer = CustomerOutputSerializer()
    ship_policy = serializers.ChoiceField(choices=Order.ShipPolicy.choices)
    allow_split = serializers.BooleanField(help_text="false: each line is served whole from one warehouse.")
    priority = serializers.ChoiceField(choices=Order.Priority.choices)
    requested_date = serializers.DateField(allow_null=True)
    placed_at = serializers.DateTimeField()
    currency = serializers.CharField()
    total = serializers.DecimalField(max_digits=14, decimal_places=2)
    lines = OrderLineOutputSerializer(many=True, source="lines.all")
    updated_at = serializers.DateTimeField(help_text="Last change of this record (what ?updated_since= filters on).")


class OrderDetailOutputSerializer(OrderListOutputSerializer):
    cancelled_at = serializers.DateTimeField(allow_null=True)
    backorders = OrderBackorderOutputSerializer(many=True, source="backorders.all")
    notifications = serializers.SerializerMethodField(help_text="What the customer was told, newest first.")
    status_url = serializers.SerializerMethodField(help_text="The customer's status page (signed link, no login).")

    def get_status_url(self, order) -> str:
        return order_status_url(order)

    @extend_schema_field(NotificationSummaryOutput(many=True))
    def get_notifications(self, order):
        if not order.backorders.all():
            return []  # customer notifications are all about backorders: an order without any has none
        placed = getattr(order, "placed_notifications", None)  # written while placing it: not read again
        if placed is not None:
            return notifications_summary(sorted(placed, key=lambda n: (n.created_at, n.pk), reverse=True))
        return notifications_summary(notifications_for_order(order))


def in_stock_placed_representation(order) -> dict:
    """``OrderPlacedOutputSerializer``'s answer for an order the one-statement in-stock path placed (no backorders,
    nothing dropped, no notifications: fulfilment/services/placement_in_stock.py), built directly from the objects in
    memory, each value formatted by the serializer's own field. The hot path of order intake; a test proves it equals
    the serializer's answer (tests/fulfilment/test_placement_in_stock.py)."""
    fields = reused_fields(OrderPlacedOutputSerializer)
    line_price = fields["lines"].child.fields["unit_price"].to_representation
    customer = order.customer
    return {
        "number": order.number,
        "external_reference": order.external_reference,
        "status": order.status,
        "channel": order.channel.code if order.channel_id else None,
        "customer": {
            "external_id": customer.external_id,
            "email": customer.email,
            "name": customer.name,
            "tier": customer.tier,
        },  # fmt: skip
        "ship_policy": order.ship_policy,
        "allow_split": order.allow_split,
        "priority": order.priority,
        "requested_date": fields["requested_date"].to_representation(order.requested_date)
        if order.requested_date is not None
        else None,
        "placed_at": fields["placed_at"].to_representation(order.placed_at),
        "currency": order.currency,
        "total": fields["total"].to_representation(order.total),
        "lines": [
            {
                "sku": line.product.sku,
                "quantity": line.quantity,
                "allocated": line.quantity_allocated,
                "backordered": line.quantity_backordered,
                "shipped": line.quantity_shipped,
                "cancelled": line.quantity_cancelled,
                "unit_price": line_price(line.unit_price),
                "at_risk": line.at_risk,
            }
            for line in order.placed_lines
        ],  # fmt: skip
        "updated_at": fields["updated_at"].to_representation(order.updated_at),
        "cancelled_at": None,
        "backorders": [],
        "notifications": [],
        "status_url": order_status_url(order),
        "dropped": [],
    }


class DroppedLineOutput(serializers.Serializer):
    sku = serializers.CharField()
    requested = serializers.IntegerField()
    dropped = serializers.IntegerField(help_text="Units not in stock, cancelled (backorder_consent=ship_available).")


class OrderPlacedOutputSerializer(OrderDetailOutputSerializer):
    dropped = serializers.SerializerMethodField(help_text="Units dropped at placement (ship_available).")

    @extend_schema_field(DroppedLineOutput(many=True))
    def get_dropped(self, order):
        placed = getattr(order, "placed_dropped", None)
        if placed is not None:
            return placed
        return [  # a replay: what was cancelled
            {"sku": line.product.sku, "requested": line.quantity, "dropped": line.quantity_cancelled}
            for line in order.lines.all()
            if line.quantity_cancelled
        ]


class ShipmentLineOutputSerializer(serializers.Serializer):
    sku = serializers.CharField(source="order_line.product.sku")
    warehouse = serializers.CharField(source="stock_item.warehouse.code")
    lot = serializers.CharField(
        source="lot.number", required=False, help_text="The lot shipped: only on lines of lot-tracked products."
    )
    quantity = serializers.IntegerField()

    def to_representation(self, instance):
        if instance.lot_id is None:  # untracked products: the line is exactly what it always was
            return {"sku": instance.order_line.product.sku, "warehouse": instance.stock_item.warehouse.code,
                    "quantity": instance.quantity}  # fmt: skip
        return super().to_representation(instance)


class ShipmentOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    shipped_at = serializers.DateTimeField()
    tracking_reference = serializers.CharField()
    lines = ShipmentLineOutputSerializer(many=True, source="lines.all")


class ShipResponseSerializer(serializers.Serializer):
    shipment = ShipmentOutputSerializer()
    order = OrderDetailOutputSerializer()


# --- lots (docs/lots.md) ------------------------------------------------------------------------------


class LotOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    sku = serializers.CharField(source="product.sku")
    warehouse = serializers.CharField(source="warehouse.code")
    number = serializers.CharField()
    expiry_date = serializers.DateField(allow_null=True, help_text="null: the lot does not expire.")
    status = serializers.ChoiceField(choices=Lot.Status.choices)
    hold_reason = serializers.CharField(help_text="Why it is quarantined or on hold.")
    quantity_received = serializers.IntegerField()
    on_hand = serializers.IntegerField(help_text="Sellable units in stock (quarantined units are not).")
    allocated = serializers.IntegerField()
    available = serializers.IntegerField()
    quarantined = serializers.IntegerField()
    updated_at = serializers.DateTimeField()


class RecallRowOutputSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=[("shipped", "shipped"), ("reserved", "reserved")])
    order = serializers.CharField()
    customer_external_id = serializers.CharField()
    customer_name = serializers.CharField()
    customer_email = serializers.CharField()
    channel = serializers.CharField(allow_null=True)
    shipment = serializers.IntegerField(allow_null=True)
    shipped_at = serializers.DateTimeField(allow_null=True)
    quantity = serializers.IntegerField()


class LotUnitsOutputSerializer(serializers.Serializer):
    received = serializers.IntegerField(
        help_text="Units that came in (receipts, positive adjustments, transfers in and transfers cancelled back)."
    )
    shipped = serializers.IntegerField()
    reserved = serializers.IntegerField(help_text="Allocated to orders, not shipped yet.")
    in_stock_free = serializers.IntegerField()
    quarantined = serializers.IntegerField()
    adjusted_out = serializers.IntegerField(help_text="Removed by adjustments (damage, shrinkage).")
    transferred_out = serializers.IntegerField(
        help_text="Sent to another warehouse by transfers: they are in the lot of the same number there, with its own "
        "recall list."
    )


class LotDetailOutputSerializer(LotOutputSerializer):
    units = LotUnitsOutputSerializer(help_text="Where every unit went: received = the other figures added up.")
    recall = RecallRowOutputSerializer(many=True, help_text="Every order holding or shipped units of this lot.")


class LotHoldInputSerializer(StrictSerializer):
    reason = serializers.CharField(max_length=200)


class LotReleaseInputSerializer(StrictSerializer):
    reason = serializers.CharField(max_length=200, required=False, default="", allow_blank=True)
