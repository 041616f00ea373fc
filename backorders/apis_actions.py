"""API v1 staff actions on one backorder: priority override and reallocation."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import IsStaff, JSONParser
from inventory.serializers import StrictSerializer

from . import services
from .apis import _backorder_or_404
from .models import PRIORITY_RANKS
from .serializers import BackorderDetailOutputSerializer


class PriorityInputSerializer(StrictSerializer):
    priority = serializers.ChoiceField(choices=list(PRIORITY_RANKS))
    reason = serializers.CharField(max_length=300)


class ReallocateInputSerializer(StrictSerializer):
    reason = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")
    quantity = serializers.IntegerField(min_value=1, max_value=1_000_000, required=False)


class BackorderPriorityApi(APIView):
    permission_classes = [IsStaff]
    parser_classes = [JSONParser]

    @extend_schema(
        summary="Override a backorder's priority (staff), recorded as an event with who and why",
        request=PriorityInputSerializer,
        responses=BackorderDetailOutputSerializer,
    )
    def post(self, request, backorder_id: int):
        backorder = _backorder_or_404(request, backorder_id)
        serializer = PriorityInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.backorder_priority_change(backorder=backorder, user=request.user, **serializer.validated_data)
        return Response(BackorderDetailOutputSerializer(_backorder_or_404(request, backorder_id)).data)


class BackorderReallocateApi(APIView):
    permission_classes = [IsStaff]
    parser_classes = [JSONParser]

    @extend_schema(
        summary="Move reserved, unshipped units of lower-priority backorders of the same product to this one",
        request=ReallocateInputSerializer,
        responses=BackorderDetailOutputSerializer,
    )
    def post(self, request, backorder_id: int):
        backorder = _backorder_or_404(request, backorder_id)
        serializer = ReallocateInputSerializer(data=request.data or {})
        serializer.is_valid(raise_exception=True)
        moved = services.backorder_reallocate(backorder=backorder, user=request.user, **serializer.validated_data)
        body = dict(BackorderDetailOutputSerializer(_backorder_or_404(request, backorder_id)).data)
        body["moved"] = moved
        return Response(body)
