"""API v1 of transfers between warehouses (staff; every write checks a permission). docs/warehouses.md."""

from __future__ import annotations

import django_filters
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import IsStaff, JSONParser, StrictSerializer
from core.errors import NotFoundError
from core.filters import StrictFilterBackend, UpdatedSinceFilter

from . import selectors, transfers
from .models import Transfer
from .serializers import lots_from_input


class TransferLotInputSerializer(StrictSerializer):
    number = serializers.CharField(max_length=64)
    quantity = serializers.IntegerField(min_value=1, max_value=1_000_000)


class TransferLineInputSerializer(StrictSerializer):
    sku = serializers.CharField(max_length=64)
    quantity = serializers.IntegerField(min_value=1, max_value=1_000_000)
    lots = TransferLotInputSerializer(
        many=True,
        required=False,
        max_length=100,
        help_text="Required for a lot-tracked product (else 422 lot_required): which lots at the source go, adding up "
        "to quantity. They arrive as the same lot numbers with the same expiry.",
    )


class TransferCreateInputSerializer(StrictSerializer):
    source = serializers.CharField(max_length=32, help_text="Code of the warehouse the units leave.")
    destination = serializers.CharField(max_length=32, help_text="Code of the warehouse the units go to.")
    expected_date = serializers.DateField(help_text="When the units are expected at the destination (ETAs use it).")
    lines = TransferLineInputSerializer(many=True, allow_empty=False, max_length=500)
    note = serializers.CharField(max_length=300, required=False, default="", allow_blank=True)


class TransferLotOutputSerializer(serializers.Serializer):
    number = serializers.CharField()
    quantity = serializers.IntegerField()
    expiry_date = serializers.DateField(
        required=False,
        allow_null=True,
        help_text="The source lot's expiry, recorded when the transfer ships "
        "(null before, and for a lot that never expires).",
    )


class TransferLineOutputSerializer(serializers.Serializer):
    sku = serializers.CharField(source="product.sku")
    name = serializers.CharField(source="product.name")
    quantity = serializers.IntegerField()
    lots = TransferLotOutputSerializer(many=True, help_text="The lots moved (lot-tracked products only).")


class TransferOutputSerializer(serializers.Serializer):
    number = serializers.CharField()
    source = serializers.CharField(source="source.code")
    destination = serializers.CharField(source="destination.code")
    status = serializers.ChoiceField(choices=Transfer.Status.choices)
    expected_date = serializers.DateField()
    note = serializers.CharField()
    lines = TransferLineOutputSerializer(many=True, source="lines.all")
    created_by = serializers.CharField(source="created_by.username", allow_null=True, default=None)
    created_at = serializers.DateTimeField()
    shipped_at = serializers.DateTimeField(allow_null=True)
    received_at = serializers.DateTimeField(allow_null=True)
    cancelled_at = serializers.DateTimeField(allow_null=True)
    updated_at = serializers.DateTimeField(help_text="Last change of this record (what ?updated_since= filters on).")


class TransferFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=Transfer.Status.choices, distinct=False)
    source = django_filters.CharFilter(field_name="source__code", max_length=32)
    destination = django_filters.CharFilter(field_name="destination__code", max_length=32)
    warehouse = django_filters.CharFilter(method="filter_warehouse", max_length=32, label="Source or destination")
    sku = django_filters.CharFilter(method="filter_sku", max_length=64, label="Has a line of this SKU")

    class Meta:
        model = Transfer
        fields: list[str] = []

    def filter_warehouse(self, queryset, name, value):
        from django.db.models import Q

        return queryset.filter(Q(source__code=value) | Q(destination__code=value))

    def filter_sku(self, queryset, name, value):
        from django.db.models import Exists, OuterRef

        from .models import TransferLine

        return queryset.filter(Exists(TransferLine.objects.filter(transfer=OuterRef("pk"), product__sku=value)))


def _transfer_or_404(number: str) -> Transfer:
    transfer = selectors.transfer_get(number=number)
    if transfer is None:
        raise NotFoundError(f"No transfer {number[:40]!r}.")
    return transfer


def _response(number: str, code=status.HTTP_200_OK) -> Response:
    return Response(TransferOutputSerializer(_transfer_or_404(number)).data, status=code)


class TransferListCreateApi(generics.ListAPIView):
    permission_classes = [IsStaff]
    parser_classes = [JSONParser]
    required_permissions = {"POST": ["inventory.add_transfer"]}
    serializer_class = TransferOutputSerializer
    filter_backends = [StrictFilterBackend, UpdatedSinceFilter]
    filterset_class = TransferFilter

    def get_queryset(self):
        return selectors.transfer_list().order_by("-id")

    @extend_schema(summary="List transfers between warehouses (staff)")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        summary="Create a transfer between warehouses (a draft: nothing moves until it is shipped)",
        request=TransferCreateInputSerializer,
        responses={201: TransferOutputSerializer},
    )
    def post(self, request):
        serializer = TransferCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        transfer = transfers.transfer_create(
            source=data["source"],
            destination=data["destination"],
            expected_date=data["expected_date"],
            lines=[
                transfers.TransferLineRequest(**{**line, "lots": lots_from_input(line.get("lots"))})
                for line in data["lines"]
            ],
            note=data["note"],
            user=request.user,
        )
        return _response(transfer.number, status.HTTP_201_CREATED)


class TransferDetailApi(APIView):
    permission_classes = [IsStaff]

    @extend_schema(summary="One transfer with its lines (staff)", responses=TransferOutputSerializer)
    def get(self, request, number: str):
        return _response(number)


def _action(name: str, permission: str, service, summary: str):
    class TransferActionApi(APIView):
        permission_classes = [IsStaff]
        parser_classes = [JSONParser]
        required_permissions = {"POST": [permission]}

        @extend_schema(summary=summary, request=None, responses=TransferOutputSerializer)
        def post(self, request, number: str):
            service(transfer=_transfer_or_404(number), user=request.user)
            return _response(number)

    TransferActionApi.__name__ = TransferActionApi.__qualname__ = f"Transfer{name}Api"
    return TransferActionApi


TransferShipApi = _action(
    "Ship", "inventory.ship_transfer", transfers.transfer_ship, "Ship a transfer: its units leave the source"
)
TransferReceiveApi = _action(
    "Receive",
    "inventory.receive_transfer",
    transfers.transfer_receive,
    "Receive a transfer: its units enter the destination and are allocated there",
)
TransferCancelApi = _action(
    "Cancel",
    "inventory.cancel_transfer",
    transfers.transfer_cancel,
    "Cancel a transfer (in transit: its units go back into the source)",
)
