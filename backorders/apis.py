"""API v1 of backorders: the queue (list, detail), staff actions on one backorder (priority, reallocation),
substitutes (alternatives in stock, switching to one) and a product as a storefront sees it (with its backorder
promise)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import IsChannelOrStaff, IsStaff, JSONParser, StrictSerializer, request_channel
from core.errors import NotFoundError
from core.filters import StrictFilterBackend, UpdatedSinceFilter
from inventory import services as inventory_services
from inventory.apis import StaffWritesMixin, _product_or_404
from inventory.serializers import ProductOutputSerializer, ProductUpdateInputSerializer

from . import selectors, services
from .eta import product_promise
from .filters import BackorderFilter
from .models import PRIORITY_RANKS
from .serializers import (
    AlternativeOutput,
    BackorderDetailOutputSerializer,
    BackorderOutputSerializer,
    backorder_list_renderer,
)
from .substitutes import backorder_accept_substitute, backorder_alternatives


def _backorder_or_404(request, backorder_id):
    """The backorder if the caller may see it: staff see all, a channel only its own orders' backorders."""
    backorder = selectors.backorder_get(backorder_id=backorder_id, channel=request_channel(request))
    if backorder is None:
        raise NotFoundError(f"No backorder {str(backorder_id)[:20]!r}.")
    return backorder


class BackorderListApi(generics.ListAPIView):
    permission_classes = [IsChannelOrStaff]
    serializer_class = BackorderOutputSerializer
    filter_backends = [StrictFilterBackend, UpdatedSinceFilter]
    filterset_class = BackorderFilter

    def get_queryset(self):
        return selectors.backorder_list(channel=request_channel(self.request))

    def list(self, request, *args, **kwargs):
        # The serializer's output from plain rows (docs/performance.md, "Reads at volume": a page of 500 spent most
        # of its time building model instances and walking dotted sources), with queue positions for the page's
        # rows only (one query), not for every row the count sees.
        renderer = backorder_list_renderer()
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginator.paginate_rows(queryset, request, values=renderer.lookups, view=self)
        rows = selectors.queue_positions_set_rows(page)
        return self.get_paginated_response(renderer.render_many(rows))

    @extend_schema(summary="List backorders, in allocation-queue order by default (a channel sees only its own)")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class BackorderDetailApi(APIView):
    permission_classes = [IsChannelOrStaff]

    @extend_schema(summary="One backorder with its event history", responses=BackorderDetailOutputSerializer)
    def get(self, request, backorder_id: int):
        backorder = _backorder_or_404(request, backorder_id)
        context = {"for_channel": request_channel(request) is not None}
        return Response(BackorderDetailOutputSerializer(backorder, context=context).data)


# --- staff actions -------------------------------------------------------------------------------


class PriorityInputSerializer(StrictSerializer):
    priority = serializers.ChoiceField(choices=list(PRIORITY_RANKS))
    reason = serializers.CharField(max_length=300)


class ReallocateInputSerializer(StrictSerializer):
    reason = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")
    quantity = serializers.IntegerField(min_value=1, max_value=1_000_000, required=False)


class BackorderPriorityApi(APIView):
    required_permissions = {"POST": ["backorders.change_priority"]}
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
    required_permissions = {"POST": ["backorders.reallocate"]}
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


# --- substitutes ----------------------------------------------------------------------------------


class BackorderAlternativesApi(APIView):
    permission_classes = [IsChannelOrStaff]

    @extend_schema(
        summary="Substitutes of the backordered product with stock free now", responses=AlternativeOutput(many=True)
    )
    def get(self, request, pk: int):
        backorder = _backorder_or_404(request, pk)
        return Response(AlternativeOutput(backorder_alternatives(backorder), many=True).data)


class AcceptSubstituteInput(StrictSerializer):
    sku = serializers.CharField(max_length=64)


class _SwitchedBackorderOutput(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    quantity = serializers.IntegerField()
    quantity_allocated = serializers.IntegerField()
    quantity_cancelled = serializers.IntegerField()


class _SubstituteLineOutput(serializers.Serializer):
    id = serializers.IntegerField()
    sku = serializers.CharField()
    quantity = serializers.IntegerField()
    quantity_allocated = serializers.IntegerField()
    unit_price = serializers.DecimalField(max_digits=12, decimal_places=2)


class _OrderRefOutput(serializers.Serializer):
    number = serializers.CharField()
    status = serializers.CharField()


class AcceptSubstituteOutput(serializers.Serializer):
    backorder = _SwitchedBackorderOutput()
    substitute_line = _SubstituteLineOutput()
    order = _OrderRefOutput()


class BackorderAcceptSubstituteApi(APIView):
    """Switch the units still waiting on a backorder to an in-stock substitute (one transaction)."""

    required_permissions = {"POST": ["backorders.accept_substitute"]}
    permission_classes = [IsChannelOrStaff]

    @extend_schema(
        summary="Switch the waiting units to an in-stock substitute",
        request=AcceptSubstituteInput,
        responses=AcceptSubstituteOutput,
    )
    def post(self, request, pk: int):
        backorder = _backorder_or_404(request, pk)
        data = AcceptSubstituteInput(data=request.data)
        data.is_valid(raise_exception=True)
        line = backorder_accept_substitute(
            backorder=backorder,
            sku=data.validated_data["sku"],
            user=request.user if request_channel(request) is None else None,
            channel=request_channel(request),
        )
        backorder.refresh_from_db()
        line.order.refresh_from_db()
        return Response(
            {
                "backorder": {
                    "id": backorder.pk,
                    "status": backorder.status,
                    "quantity": backorder.quantity,
                    "quantity_allocated": backorder.quantity_allocated,
                    "quantity_cancelled": backorder.quantity_cancelled,
                },
                "substitute_line": {
                    "id": line.pk,
                    "sku": line.product.sku,
                    "quantity": line.quantity,
                    "quantity_allocated": line.quantity_allocated,
                    "unit_price": str(line.unit_price),
                },
                "order": {"number": line.order.number, "status": line.order.status},
            }
        )


# --- a product as a storefront sees it ----------------------------------------------------------


class ProductDetailOutputSerializer(ProductOutputSerializer):
    """One product, plus what a storefront shows next to "backorder" (backorders.eta.product_promise)."""

    next_restock_date = serializers.DateField(
        read_only=True, allow_null=True, help_text="Earliest expected date of an open purchase order."
    )
    backorder_eta = serializers.DateField(
        read_only=True, allow_null=True, help_text="Expected date a new backorder of one unit would get now."
    )
    backorder_eta_basis = serializers.CharField(
        read_only=True, help_text="purchase_order_history | purchase_order | lead_time_history | lead_time | none"
    )
    backorder_eta_expected = serializers.DateField(
        read_only=True,
        allow_null=True,
        help_text="The supplier's word for that backorder (PO date or quoted lead time).",
    )
    backorder_eta_confidence = serializers.FloatField(
        read_only=True, allow_null=True, help_text="Measured confidence of backorder_eta (null: not measured)."
    )

    def to_representation(self, instance):
        data = super().to_representation(instance)
        promise = product_promise(product=instance)
        data["next_restock_date"] = promise["next_restock_date"] and promise["next_restock_date"].isoformat()
        data["backorder_eta"] = promise["backorder_eta"] and promise["backorder_eta"].isoformat()
        data["backorder_eta_basis"] = promise["backorder_eta_basis"]
        expected = promise["backorder_eta_expected"]
        data["backorder_eta_expected"] = expected and expected.isoformat()
        data["backorder_eta_confidence"] = promise["backorder_eta_confidence"]
        return data


class ProductDetailApi(StaffWritesMixin, APIView):
    required_permissions = {"PATCH": ["inventory.change_product"]}
    parser_classes = [JSONParser]

    @extend_schema(
        summary="One product with its availability, next restock date and backorder ETA",
        responses=ProductDetailOutputSerializer,
    )
    def get(self, request, sku: str):
        return Response(ProductDetailOutputSerializer(_product_or_404(sku)).data)

    @extend_schema(
        summary="Update a product (staff)",
        description="Discontinuing a product, or making it not backorderable, cancels the units still waiting for it.",
        request=ProductUpdateInputSerializer,
        responses=ProductOutputSerializer,
    )
    def patch(self, request, sku: str):
        product = _product_or_404(sku)
        serializer = ProductUpdateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        inventory_services.product_update(product=product, **serializer.validated_data)
        return Response(ProductOutputSerializer(_product_or_404(sku)).data)
