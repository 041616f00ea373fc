"""GET /api/v1/metrics/?days=30 — the overview's KPIs and chart series as JSON; GET /api/v1/reports/backorder-cost/
— the cost of backorders (staff only)."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import IsStaff
from core.errors import DateOutOfRange

from .costs import GROUPS, backorder_cost_report
from .metrics import metrics_payload


class MetricsQuerySerializer(serializers.Serializer):
    days = serializers.IntegerField(min_value=1, max_value=365, default=30)


class MetricsApi(APIView):
    permission_classes = [IsStaff]

    @extend_schema(
        summary="Dashboard KPIs and chart series for the last N days (staff)",
        parameters=[MetricsQuerySerializer],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request):
        query = MetricsQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        return Response(metrics_payload(days=query.validated_data["days"]))


MAX_RANGE_DAYS = 3660


class BackorderCostQuerySerializer(serializers.Serializer):
    start = serializers.DateField(help_text="First day of the range (backorders created from this day).")
    end = serializers.DateField(help_text="Last day of the range (inclusive).")
    group_by = serializers.ChoiceField(choices=list(GROUPS), default="product")


class BackorderCostFiguresOutput(serializers.Serializer):
    backorders = serializers.IntegerField()
    units = serializers.IntegerField(help_text="Units that went on backorder.")
    revenue_delayed = serializers.DecimalField(
        max_digits=14, decimal_places=2, help_text="(units − cancelled) × price."
    )
    revenue_lost = serializers.DecimalField(
        max_digits=14, decimal_places=2, help_text="Cancelled waiting units × price."
    )
    incentives = serializers.DecimalField(max_digits=14, decimal_places=2, help_text="Thank-you incentives granted.")
    expedite_cost = serializers.DecimalField(
        max_digits=14, decimal_places=2, help_text="Expedite costs of purchase-order date revisions in the range."
    )
    carrying_cost = serializers.DecimalField(
        max_digits=14, decimal_places=2, help_text="Value waited × days waited × yearly rate ÷ 365."
    )
    sla_breaches = serializers.IntegerField()


class BackorderCostRowOutput(BackorderCostFiguresOutput):
    key = serializers.CharField(allow_null=True, help_text="The product SKU, supplier code, reason or channel code.")


class BackorderCostOutput(serializers.Serializer):
    start = serializers.DateField()
    end = serializers.DateField()
    group_by = serializers.CharField()
    rows = BackorderCostRowOutput(many=True)
    totals = BackorderCostFiguresOutput()


class BackorderCostApi(APIView):
    """GET /api/v1/reports/backorder-cost/ — what backorders cost over a range, by product, supplier, reason or
    channel (dashboard/costs.py; docs/promises.md)."""

    permission_classes = [IsStaff]
    extra_problem_statuses = {"get": [422]}  # date_out_of_range: the range ends before it starts, or is too long

    @extend_schema(
        summary="The cost of backorders over a date range, grouped (staff)",
        parameters=[BackorderCostQuerySerializer],
        responses=BackorderCostOutput,
    )
    def get(self, request):
        query = BackorderCostQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        # What the dates mean together is a business rule (422), not the shape of the request (400).
        if data["end"] < data["start"]:
            raise DateOutOfRange("The range ends before it starts.", details={"field": "end"})
        if (data["end"] - data["start"]).days > MAX_RANGE_DAYS:
            raise DateOutOfRange("A range of at most ten years.", details={"field": "end", "max_days": MAX_RANGE_DAYS})
        return Response(BackorderCostOutput(backorder_cost_report(**data)).data)
