"""GET /api/v1/metrics/?days=30 — the overview's KPIs and chart series as JSON (staff only)."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import IsStaff

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
