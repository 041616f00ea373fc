"""API v1 serializers of suppliers: strict input serializers, plain output serializers."""

from __future__ import annotations

from decimal import Decimal

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api import StrictSerializer
from inventory.serializers import LotInputSerializer

from .models import ForecastChoice

MAX_QUANTITY = 1_000_000
CODE = r"^[A-Za-z0-9][A-Za-z0-9._\-]*$"


class SupplierInputSerializer(StrictSerializer):
    code = serializers.RegexField(CODE, max_length=50)
    name = serializers.CharField(max_length=200)
    email = serializers.EmailField(required=False, allow_blank=True, default="")


class SupplierOutputSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    email = serializers.CharField()
    is_active = serializers.BooleanField()
    updated_at = serializers.DateTimeField(help_text="Last change of this record (what ?updated_since= filters on).")


class SupplierProductInputSerializer(StrictSerializer):
    supplier = serializers.CharField(max_length=50, help_text="Supplier code.")
    sku = serializers.CharField(max_length=64)
    supplier_sku = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    lead_time_days = serializers.IntegerField(min_value=0, max_value=3650, default=14)
    min_order_quantity = serializers.IntegerField(min_value=1, max_value=MAX_QUANTITY, default=1)
    pack_size = serializers.IntegerField(min_value=1, max_value=MAX_QUANTITY, default=1)
    unit_cost = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=Decimal("0"), default=Decimal("0"))
    preferred = serializers.BooleanField(default=False)


class SupplierProductOutputSerializer(serializers.Serializer):
    supplier = serializers.CharField(source="supplier.code")
    sku = serializers.CharField(source="product.sku")
    supplier_sku = serializers.CharField()
    lead_time_days = serializers.IntegerField()
    min_order_quantity = serializers.IntegerField()
    pack_size = serializers.IntegerField()
    unit_cost = serializers.DecimalField(max_digits=12, decimal_places=2)
    preferred = serializers.BooleanField()
    updated_at = serializers.DateTimeField(help_text="Last change of this record (what ?updated_since= filters on).")


class PurchaseOrderLineInputSerializer(StrictSerializer):
    sku = serializers.CharField(max_length=64)
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_QUANTITY)
    expected_date = serializers.DateField(required=False)


class PurchaseOrderCreateInputSerializer(StrictSerializer):
    supplier = serializers.CharField(max_length=50)
    warehouse = serializers.CharField(max_length=32)
    expected_date = serializers.DateField()
    lines = PurchaseOrderLineInputSerializer(many=True, allow_empty=False, max_length=500)
    notes = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
    expedite = serializers.BooleanField(default=False)
    send = serializers.BooleanField(default=False, help_text="Send at once (only sent orders count as incoming).")


class LineDateInputSerializer(StrictSerializer):
    sku = serializers.CharField(max_length=64)
    expected_date = serializers.DateField()


class PurchaseOrderReviseInputSerializer(StrictSerializer):
    reason = serializers.CharField(max_length=500)
    expected_date = serializers.DateField(required=False)
    lines = LineDateInputSerializer(many=True, required=False, max_length=500)
    expedite_cost = serializers.DecimalField(
        max_digits=12, decimal_places=2, min_value=Decimal("0"), required=False, default=Decimal("0"),
        help_text="What moving the date costs (air freight, a fee): split over the revised lines by units to come.",
    )  # fmt: skip


class ReasonInputSerializer(StrictSerializer):
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class ReceiveLineInputSerializer(StrictSerializer):
    sku = serializers.CharField(max_length=64)
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_QUANTITY)
    lots = LotInputSerializer(
        many=True,
        required=False,
        max_length=100,
        help_text="Required for a lot-tracked product (else 422 lot_required): its lots, adding up to quantity.",
    )


class ReceiveInputSerializer(StrictSerializer):
    lines = ReceiveLineInputSerializer(many=True, allow_empty=False, max_length=500)


class DateRevisionOutputSerializer(serializers.Serializer):
    old_date = serializers.DateField()
    new_date = serializers.DateField()
    reason = serializers.CharField()
    expedite_cost = serializers.DecimalField(max_digits=12, decimal_places=2)
    created_at = serializers.DateTimeField()


class PurchaseOrderLineOutputSerializer(serializers.Serializer):
    sku = serializers.CharField(source="product.sku")
    quantity = serializers.IntegerField(source="quantity_ordered")
    quantity_received = serializers.IntegerField()
    quantity_outstanding = serializers.IntegerField()
    expected_date = serializers.DateField()
    original_expected_date = serializers.DateField()


class PurchaseOrderLineDetailOutputSerializer(PurchaseOrderLineOutputSerializer):
    date_revisions = DateRevisionOutputSerializer(many=True)


class PurchaseOrderOutputSerializer(serializers.Serializer):
    number = serializers.CharField()
    supplier = serializers.CharField(source="supplier.code")
    warehouse = serializers.CharField(source="warehouse.code")
    status = serializers.CharField()
    order_date = serializers.DateField()
    expected_date = serializers.DateField()
    expedite = serializers.BooleanField()
    notes = serializers.CharField()
    sent_at = serializers.DateTimeField(allow_null=True)
    confirmed_at = serializers.DateTimeField(allow_null=True, help_text="When the supplier confirmed it.")
    received_at = serializers.DateTimeField(allow_null=True)
    cancelled_at = serializers.DateTimeField(allow_null=True)
    lines = PurchaseOrderLineOutputSerializer(many=True)
    updated_at = serializers.DateTimeField(help_text="Last change of this record (what ?updated_since= filters on).")


class AllocationServedOutput(serializers.Serializer):
    backorder = serializers.IntegerField()
    position = serializers.IntegerField(allow_null=True, help_text="Its place in the queue when served.")
    units = serializers.IntegerField()
    outstanding_after = serializers.IntegerField(allow_null=True)


class AllocationPassedOverOutput(serializers.Serializer):
    backorder = serializers.IntegerField()
    position = serializers.IntegerField(help_text="Its place in line after the run.")
    waiting = serializers.IntegerField()
    why = serializers.CharField()


class AllocationRunOutput(serializers.Serializer):
    sku = serializers.CharField(source="product.sku")
    run_at = serializers.DateTimeField()
    source = serializers.CharField()
    units_free = serializers.IntegerField()
    units_allocated = serializers.IntegerField()
    served = AllocationServedOutput(many=True)
    passed_over = AllocationPassedOverOutput(many=True, help_text="The first backorders still waiting, with why.")
    passed_over_count = serializers.IntegerField()


class PurchaseOrderDetailOutputSerializer(PurchaseOrderOutputSerializer):
    lines = PurchaseOrderLineDetailOutputSerializer(many=True)
    allocation_runs = serializers.SerializerMethodField(
        help_text="The allocation runs its receipts set off, newest first: who got what, who was passed over, why."
    )

    @extend_schema_field(AllocationRunOutput(many=True))
    def get_allocation_runs(self, purchase_order):
        from .selectors import allocation_runs_for_purchase_order

        return AllocationRunOutput(allocation_runs_for_purchase_order(purchase_order=purchase_order), many=True).data


class IncomingOutputSerializer(serializers.Serializer):
    date = serializers.DateField()
    quantity = serializers.IntegerField()


@extend_schema_field(OpenApiTypes.DATETIME)
class ComputedAtField(serializers.Field):
    """``updated_at`` of a computed row (shortages, the plan): the time it was computed, i.e. now; such a list is
    recomputed on every call, so ``?updated_since=`` returns it whole."""

    def __init__(self, **kwargs):
        kwargs.setdefault("source", "*")
        kwargs.setdefault("read_only", True)
        kwargs.setdefault("help_text", "When this row was computed (now): the list is recomputed on every call.")
        super().__init__(**kwargs)

    def to_representation(self, value):
        return serializers.DateTimeField().to_representation(timezone.now())


class ShortageOutputSerializer(serializers.Serializer):
    sku = serializers.CharField()
    name = serializers.CharField()
    demand = serializers.IntegerField(help_text="Units customers wait for (outstanding on waiting backorders).")
    on_hand = serializers.IntegerField()
    available = serializers.IntegerField(help_text="Units on hand not yet reserved.")
    incoming = serializers.IntegerField(help_text="Units still to come on sent purchase orders.")
    incoming_by_date = IncomingOutputSerializer(many=True)
    uncovered = serializers.IntegerField(help_text="Demand neither stock nor purchase orders cover.")
    supplier = serializers.CharField(allow_null=True, help_text="Preferred supplier code.")
    lead_time_days = serializers.IntegerField(allow_null=True)
    min_order_quantity = serializers.IntegerField(allow_null=True)
    pack_size = serializers.IntegerField(allow_null=True)
    transfer_from = serializers.CharField(
        allow_null=True,
        help_text="With ?warehouse=: the warehouse to move units from before ordering (most free units), or null.",
    )
    transfer_quantity = serializers.IntegerField(help_text="Units to move from transfer_from (0: none suggested).")
    suggested_quantity = serializers.IntegerField(
        help_text="What a transfer does not cover of the uncovered units, at least the MOQ, in whole packs."
    )
    updated_at = ComputedAtField()


class WarehouseQuerySerializer(serializers.Serializer):
    warehouse = serializers.CharField(
        max_length=32,
        required=False,
        allow_blank=True,
        help_text="A warehouse code: the list seen from that warehouse.",
    )


class PlanningQuerySerializer(serializers.Serializer):
    service_level = serializers.FloatField(
        min_value=0.5, max_value=0.999, default=0.95, help_text="Share of lead times without a stockout (0.5–0.999)."
    )
    window_days = serializers.IntegerField(
        min_value=7, max_value=365, default=56, help_text="Days of order history the forecast averages."
    )
    sku = serializers.ListField(child=serializers.CharField(max_length=64), required=False, max_length=200)
    reorder_now = serializers.BooleanField(required=False, help_text="Only products at or below their reorder point.")
    warehouse = serializers.CharField(
        max_length=32,
        required=False,
        allow_blank=True,
        help_text="A warehouse code: its stock side, and a transfer suggested first.",
    )


class PlanningRowOutputSerializer(serializers.Serializer):
    sku = serializers.CharField()
    name = serializers.CharField()
    forecast_daily = serializers.FloatField(
        help_text="Units a day expected: the window's average, or the seasonal method's where it backtests better."
    )
    forecast_method = serializers.ChoiceField(
        choices=ForecastChoice.Method.choices, help_text="The method that backtested best (nightly)."
    )
    forecast_wape = serializers.FloatField(
        allow_null=True, help_text="Its backtest WAPE (null: not backtested yet or too little history)."
    )
    forecast_skill_vs_naive = serializers.FloatField(allow_null=True, help_text="1 − its error ÷ the naive error.")
    demand_deviation = serializers.FloatField(help_text="Standard deviation of the daily units.")
    available = serializers.IntegerField(help_text="Units on hand not yet reserved.")
    incoming = serializers.IntegerField(help_text="Units still to come on sent purchase orders.")
    waiting = serializers.IntegerField(help_text="Units customers wait for on backorders.")
    inventory_position = serializers.IntegerField(help_text="available + incoming − waiting.")
    days_of_cover = serializers.FloatField(allow_null=True, help_text="Days the free stock lasts at the forecast.")
    supplier = serializers.CharField(allow_null=True, help_text="Preferred supplier code.")
    lead_time_days = serializers.IntegerField(allow_null=True)
    safety_stock = serializers.IntegerField(allow_null=True, help_text="z × σ(daily) × √(lead time).")
    reorder_point = serializers.IntegerField(allow_null=True, help_text="forecast × lead time + safety stock.")
    reorder_now = serializers.BooleanField(help_text="The position is at or below the reorder point.")
    updated_at = ComputedAtField()
    transfer_from = serializers.CharField(
        allow_null=True, help_text="With ?warehouse=: the warehouse to move units from before ordering, or null."
    )
    transfer_quantity = serializers.IntegerField(help_text="Units to move from transfer_from (0: none suggested).")
    suggested_quantity = serializers.IntegerField(
        help_text="Up to the reorder point plus a week of demand, less a suggested transfer, at least the MOQ, in "
        "whole packs."
    )
    stockout_risk = serializers.FloatField(
        allow_null=True, help_text="Chance (0–1) that lead-time demand exceeds the position; null without supplier."
    )


class BacktestQuerySerializer(serializers.Serializer):
    window = serializers.IntegerField(
        min_value=14, max_value=365, default=56, help_text="Days of history each method sees at an origin."
    )
    horizon = serializers.IntegerField(min_value=1, max_value=56, default=7, help_text="Days forecast per origin.")
    folds = serializers.IntegerField(min_value=1, max_value=12, default=4, help_text="Origins, horizon days apart.")
    sku = serializers.ListField(child=serializers.CharField(max_length=64), required=False, max_length=200)


class BacktestMethodOutputSerializer(serializers.Serializer):
    wape = serializers.FloatField(allow_null=True, help_text="Σ|forecast − actual| ÷ Σ actual.")
    bias = serializers.FloatField(allow_null=True, help_text="Σ(forecast − actual) ÷ Σ actual (positive: too high).")
    skill_vs_naive = serializers.FloatField(allow_null=True, help_text="1 − its error ÷ the naive forecast's.")
    skill_vs_seasonal_naive = serializers.FloatField(
        allow_null=True, help_text="1 − its error ÷ the seasonal-naive (same weekday last week) forecast's."
    )


class BacktestMethodsOutputSerializer(serializers.Serializer):
    moving_average = BacktestMethodOutputSerializer()
    seasonal = BacktestMethodOutputSerializer()


class BacktestBaselineOutputSerializer(serializers.Serializer):
    wape = serializers.FloatField(allow_null=True)


class BacktestBaselinesOutputSerializer(serializers.Serializer):
    naive = BacktestBaselineOutputSerializer()
    seasonal_naive = BacktestBaselineOutputSerializer()


class BacktestRowOutputSerializer(serializers.Serializer):
    sku = serializers.CharField()
    name = serializers.CharField()
    status = serializers.ChoiceField(choices=["ok", "insufficient_history"])
    history_days = serializers.IntegerField(help_text="Days since the product's first order (within two years).")
    needed_days = serializers.IntegerField(help_text="28 + horizon × folds.")
    methods = BacktestMethodsOutputSerializer(required=False, help_text="Absent with insufficient_history.")
    baselines = BacktestBaselinesOutputSerializer(required=False)
    best_method = serializers.ChoiceField(choices=ForecastChoice.Method.choices, required=False)
    planning_method = serializers.ChoiceField(
        choices=ForecastChoice.Method.choices, help_text="What planning uses now (from the nightly backtest)."
    )
