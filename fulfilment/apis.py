"""API v1 views of orders: placing, listing, reading, shipping and cancelling orders."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import IsChannelOrStaff, IsStaff, JSONParser, request_channel
from core.errors import NotFoundError
from core.filters import StrictFilterBackend, UpdatedSinceFilter
from core.serializer_reuse import serialized, validated
from inventory.filters import LotFilter
from orders import selectors
from orders.filters import OrderFilter
from orders.services import CustomerData

from . import selectors as fulfilment_selectors
from . import services
from .serializers import (
    LotDetailOutputSerializer,
    LotHoldInputSerializer,
    LotOutputSerializer,
    LotReleaseInputSerializer,
    OrderCancelInputSerializer,
    OrderCreateInputSerializer,
    OrderDetailOutputSerializer,
    OrderListOutputSerializer,
    OrderPlacedOutputSerializer,
    OrderShipInputSerializer,
    ShipResponseSerializer,
    in_stock_placed_representation,
    order_create_input_fast,
)
from .services import lots as lot_services

IDEMPOTENCY_KEY_MAX_LENGTH = 200


def _order_or_404(request, number: str):
    """The order if the caller may see it: staff see every order, a channel only its own."""
    order = selectors.order_get(number=number, channel=request_channel(request))
    if order is None:
        raise NotFoundError(f"No order {number[:32]!r}.")
    return order


def _idempotency_key(request) -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    key = key.strip()
    if not key or len(key) > IDEMPOTENCY_KEY_MAX_LENGTH or not key.isprintable() or not key.isascii():
        raise serializers.ValidationError(
            {"Idempotency-Key": [f"Must be 1 to {IDEMPOTENCY_KEY_MAX_LENGTH} printable ASCII characters."]}
        )
    return key


class OrderListCreateApi(generics.ListAPIView):
    required_permissions = {"POST": ["orders.add_order"]}
    permission_classes = [IsChannelOrStaff]
    parser_classes = [JSONParser]
    serializer_class = OrderListOutputSerializer
    filter_backends = [StrictFilterBackend, UpdatedSinceFilter]
    filterset_class = OrderFilter

    def get_queryset(self):
        return selectors.order_list(channel=request_channel(self.request))

    @extend_schema(summary="List orders (a channel sees only its own)")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        summary="Place an order",
        description=(
            "Allocates what is available now and backorders the shortfall. With an `Idempotency-Key` header a retry "
            "with the same body returns the first order (200) instead of placing a second one. `backorder_consent` "
            "says what the customer agreed to when not everything is in stock (docs/terms.md): `decline` answers "
            "409 `backorder_declined` (or `eta_beyond_requested_date` / `eta_beyond_max_wait`) and writes nothing."
        ),
        request=OrderCreateInputSerializer,
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                # Printable ASCII with at least one non-space character, as _idempotency_key accepts.
                {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": IDEMPOTENCY_KEY_MAX_LENGTH,
                    "pattern": "^[ -~]*[!-~][ -~]*$",
                },
                OpenApiParameter.HEADER,
                description="Unique per order attempt; retries reuse it.",
            )
        ],
        responses={
            201: OrderPlacedOutputSerializer,
            200: OpenApiResponse(OrderPlacedOutputSerializer, description="Replay of an Idempotency-Key"),
        },
    )
    def post(self, request):
        idempotency_key = _idempotency_key(request)
        data = order_create_input_fast(request.data) or validated(OrderCreateInputSerializer, request.data)
        result = services.order_place(
            customer=CustomerData(**data["customer"]),
            lines=[services.LineRequest(sku=line["sku"], quantity=line["quantity"]) for line in data["lines"]],
            channel=request_channel(request),
            ship_policy=data["ship_policy"],
            priority=data["priority"],
            requested_date=data["requested_date"],
            backorder_consent=data["backorder_consent"],
            allow_split=data["allow_split"],
            idempotency_key=idempotency_key,
            user=request.user,
        )
        if getattr(result.order, "placed_in_one_statement", False):  # the everyday order: its answer built directly
            return Response(in_stock_placed_representation(result.order), status=status.HTTP_201_CREATED)
        # A new order comes back with its lines and backorders in memory; a replay is read again.
        order = (
            selectors.order_just_placed(order=result.order)
            if result.created
            else selectors.order_list().get(pk=result.order.pk)
        )
        return Response(
            serialized(OrderPlacedOutputSerializer, order),
            status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
        )


class OrderDetailApi(APIView):
    permission_classes = [IsChannelOrStaff]

    @extend_schema(summary="One order with its lines and backorders", responses=OrderDetailOutputSerializer)
    def get(self, request, number: str):
        return Response(OrderDetailOutputSerializer(_order_or_404(request, number)).data)


class OrderShipApi(APIView):
    required_permissions = {"POST": ["orders.ship_order"]}
    permission_classes = [IsStaff]
    parser_classes = [JSONParser]

    @extend_schema(
        summary="Ship what is allocated (staff)",
        description="A ship-complete order ships only once every line is fully allocated.",
        request=OrderShipInputSerializer,
        responses=ShipResponseSerializer,
    )
    def post(self, request, number: str):
        order = _order_or_404(request, number)
        serializer = OrderShipInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        shipment = services.order_ship(order=order, user=request.user, **serializer.validated_data)
        order = selectors.order_list().get(pk=order.pk)
        return Response(ShipResponseSerializer({"shipment": shipment, "order": order}).data)


class OrderCancelApi(APIView):
    required_permissions = {"POST": ["orders.cancel_order"]}
    permission_classes = [IsChannelOrStaff]
    parser_classes = [JSONParser]

    @extend_schema(
        summary="Cancel the whole order or some lines (staff, or the channel that placed it)",
        description=(
            "Units still waiting for stock are cancelled first, then reserved units, which go back to the pool and "
            "are offered to the backorder queue."
        ),
        request=OrderCancelInputSerializer,
        responses=OrderDetailOutputSerializer,
    )
    def post(self, request, number: str):
        order = _order_or_404(request, number)
        serializer = OrderCancelInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        lines = data.get("lines")
        services.order_cancel(
            order=order,
            lines=None
            if lines is None
            else [services.CancelRequest(sku=line["sku"], quantity=line["quantity"]) for line in lines],
            reason=data["reason"],
            user=request.user,
        )
        return Response(OrderDetailOutputSerializer(selectors.order_list().get(pk=order.pk)).data)


# --- lots (docs/lots.md) ------------------------------------------------------------------------------


def _lot_or_404(lot_id: int):
    lot = fulfilment_selectors.lots_list().filter(pk=lot_id).first()
    if lot is None:
        raise NotFoundError(f"No lot {lot_id}.")
    return lot


def _lot_detail(lot_id: int) -> dict:
    lot = _lot_or_404(lot_id)
    recall = fulfilment_selectors.lot_recall(lot)
    lot.units, lot.recall = recall["units"], recall["recall"]
    return LotDetailOutputSerializer(lot).data


class LotListApi(generics.ListAPIView):
    permission_classes = [IsStaff]
    serializer_class = LotOutputSerializer
    filter_backends = [StrictFilterBackend, UpdatedSinceFilter]
    filterset_class = LotFilter

    def get_queryset(self):
        return fulfilment_selectors.lots_list()

    @extend_schema(summary="Lots with their expiry and units, soonest expiry first (staff)")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class LotDetailApi(APIView):
    permission_classes = [IsStaff]

    @extend_schema(
        summary="One lot and where every unit went: the recall list (staff)", responses=LotDetailOutputSerializer
    )
    def get(self, request, lot_id: int):
        return Response(_lot_detail(lot_id))


class LotHoldApi(APIView):
    required_permissions = {"POST": ["inventory.hold_lot"]}
    permission_classes = [IsStaff]
    parser_classes = [JSONParser]

    @extend_schema(
        summary="Put a lot on hold (a recall): its units leave sellable stock, its reservations return to the queue",
        request=LotHoldInputSerializer,
        responses=LotDetailOutputSerializer,
    )
    def post(self, request, lot_id: int):
        lot = _lot_or_404(lot_id)
        serializer = LotHoldInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        lot_services.lot_hold(lot=lot, reason=serializer.validated_data["reason"], user=request.user)
        return Response(_lot_detail(lot_id))


class LotReleaseApi(APIView):
    required_permissions = {"POST": ["inventory.hold_lot"]}
    permission_classes = [IsStaff]
    parser_classes = [JSONParser]

    @extend_schema(
        summary="Lift a hold: the units come back and are offered to the queue (or stay quarantined if too late)",
        request=LotReleaseInputSerializer,
        responses=LotDetailOutputSerializer,
    )
    def post(self, request, lot_id: int):
        lot = _lot_or_404(lot_id)
        serializer = LotReleaseInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        lot_services.lot_release(lot=lot, reason=serializer.validated_data["reason"], user=request.user)
        return Response(_lot_detail(lot_id))
