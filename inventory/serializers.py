"""API v1 serializers of inventory: small strict input serializers, plain output serializers."""

from __future__ import annotations

from decimal import Decimal

from rest_framework import serializers

from core.api import NonZeroIntegerField, StrictSerializer

from .lots import LotInput
from .models import Product

# Signed adjustments are bounded so a typo cannot overflow the 32-bit stock counters.
MAX_ADJUSTMENT = 1_000_000


# --- products ---------------------------------------------------------------------------------


class ProductOutputSerializer(serializers.Serializer):
    sku = serializers.CharField()
    name = serializers.CharField()
    unit_price = serializers.DecimalField(max_digits=12, decimal_places=2)
    status = serializers.ChoiceField(choices=Product.Status.choices)
    backorderable = serializers.BooleanField()
    tracking = serializers.ChoiceField(choices=Product.Tracking.choices)
    min_shelf_life_days = serializers.IntegerField(help_text="Shelf life a lot must still have on the day it ships.")
    available = serializers.IntegerField(help_text="Units on hand minus allocated, over every warehouse.")
    on_hand = serializers.IntegerField(help_text="Units physically in stock, over every warehouse.")
    updated_at = serializers.DateTimeField(help_text="Last change of this record (what ?updated_since= filters on).")


class ProductCreateInputSerializer(StrictSerializer):
    sku = serializers.RegexField(r"^[A-Za-z0-9][A-Za-z0-9._\-]*$", max_length=64)
    name = serializers.CharField(max_length=200)
    unit_price = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=Decimal("0"))
    status = serializers.ChoiceField(choices=Product.Status.choices, default=Product.Status.ACTIVE)
    backorderable = serializers.BooleanField(default=True)
    tracking = serializers.ChoiceField(
        choices=Product.Tracking.choices, default=Product.Tracking.NONE, help_text="lot: every unit belongs to a lot."
    )
    min_shelf_life_days = serializers.IntegerField(min_value=0, max_value=3650, default=0)


class ProductUpdateInputSerializer(StrictSerializer):
    name = serializers.CharField(max_length=200, required=False)
    unit_price = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=Decimal("0"), required=False)
    status = serializers.ChoiceField(choices=Product.Status.choices, required=False)
    backorderable = serializers.BooleanField(required=False)
    min_shelf_life_days = serializers.IntegerField(min_value=0, max_value=3650, required=False)


# --- warehouses and stock -----------------------------------------------------------------------


class WarehouseOutputSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    is_active = serializers.BooleanField(help_text="Inactive: its stock is neither available nor ETA supply.")
    priority = serializers.IntegerField(help_text="Routing order: lower is served first (docs/warehouses.md).")
    updated_at = serializers.DateTimeField(help_text="Last change of this record (what ?updated_since= filters on).")


class WarehouseCreateInputSerializer(StrictSerializer):
    code = serializers.RegexField(r"^[A-Za-z0-9][A-Za-z0-9._\-]*$", max_length=32)
    name = serializers.CharField(max_length=200)
    is_active = serializers.BooleanField(default=True)
    priority = serializers.IntegerField(min_value=0, max_value=2_147_483_647, default=100)


class StockItemOutputSerializer(serializers.Serializer):
    sku = serializers.CharField(source="product.sku")
    warehouse = serializers.CharField(source="warehouse.code")
    on_hand = serializers.IntegerField()
    allocated = serializers.IntegerField()
    available = serializers.IntegerField(source="available_units")
    updated_at = serializers.DateTimeField(help_text="Last change of this record (what ?updated_since= filters on).")


class LotInputSerializer(StrictSerializer):
    number = serializers.CharField(max_length=64)
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_ADJUSTMENT)
    expiry_date = serializers.DateField(
        required=False,
        allow_null=True,
        help_text="Required when units come in (null: the lot does not expire); not needed to remove units.",
    )


def lots_from_input(data: list[dict] | None) -> list[LotInput] | None:
    """Validated lot inputs as the services take them (an expiry left out stays 'not said')."""
    if data is None:
        return None
    return [LotInput(**lot) for lot in data]


class StockAdjustmentInputSerializer(StrictSerializer):
    sku = serializers.CharField(max_length=64)
    warehouse = serializers.CharField(max_length=32, help_text="Warehouse code.")
    quantity = NonZeroIntegerField(
        error_messages={"zero": "An adjustment must change the quantity (it cannot be 0)."},
        min_value=-MAX_ADJUSTMENT,
        max_value=MAX_ADJUSTMENT,
        help_text="Signed: positive adds units (found, returned), negative removes them (shrinkage).",
    )
    reason = serializers.CharField(max_length=200)
    reference = serializers.CharField(max_length=100, required=False, default="", allow_blank=True)
    lots = LotInputSerializer(
        many=True,
        required=False,
        max_length=100,
        help_text="Required for a lot-tracked product (else 422 lot_required): its lots, adding up to |quantity|.",
    )


class StockMovementOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    sku = serializers.CharField(source="stock_item.product.sku")
    warehouse = serializers.CharField(source="stock_item.warehouse.code")
    kind = serializers.CharField()
    quantity = serializers.IntegerField()
    reason = serializers.CharField()
    reference = serializers.CharField()
    actor = serializers.CharField()
    created_at = serializers.DateTimeField()
    on_hand = serializers.IntegerField(source="stock_item.on_hand", help_text="On hand after the movement.")
