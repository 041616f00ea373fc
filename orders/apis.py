"""API v1 of customers: a channel sees its own customers, staff see every one and set their tier."""

from __future__ import annotations

import django_filters
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import IsChannelOrStaff, IsStaff, JSONParser, StrictSerializer, request_channel
from core.errors import NotFoundError

from . import selectors, services
from .models import Customer


class CustomerRecordOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    channel = serializers.CharField(source="channel.code", allow_null=True, default=None)
    external_id = serializers.CharField()
    email = serializers.EmailField()
    name = serializers.CharField()
    tier = serializers.ChoiceField(choices=Customer.Tier.choices, help_text="Set by staff.")
    lifetime_value = serializers.DecimalField(
        max_digits=14, decimal_places=2, help_text="Value of everything shipped to the customer."
    )
    created_at = serializers.DateTimeField()


class CustomerTierInputSerializer(StrictSerializer):
    tier = serializers.ChoiceField(choices=Customer.Tier.choices)


class CustomerFilter(django_filters.FilterSet):
    external_id = django_filters.CharFilter(max_length=100)
    email = django_filters.CharFilter(lookup_expr="iexact", max_length=254)

    class Meta:
        model = Customer
        fields = ["external_id", "email"]


def _customer_or_404(request, customer_id: int) -> Customer:
    customer = selectors.customer_get(customer_id=customer_id, channel=request_channel(request))
    if customer is None:
        raise NotFoundError(f"No customer {customer_id}.")
    return customer


class CustomerListApi(generics.ListAPIView):
    permission_classes = [IsChannelOrStaff]
    serializer_class = CustomerRecordOutputSerializer
    filterset_class = CustomerFilter

    def get_queryset(self):
        return selectors.customer_list(channel=request_channel(self.request))

    @extend_schema(summary="List customers (a channel sees only its own)")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class CustomerDetailApi(APIView):
    permission_classes = [IsChannelOrStaff]
    parser_classes = [JSONParser]
    required_permissions = {"PATCH": ["orders.change_customer"]}

    def get_permissions(self):
        return [IsStaff()] if self.request.method == "PATCH" else super().get_permissions()

    @extend_schema(summary="One customer (a channel sees only its own)", responses=CustomerRecordOutputSerializer)
    def get(self, request, customer_id: int):
        return Response(CustomerRecordOutputSerializer(_customer_or_404(request, customer_id)).data)

    @extend_schema(
        summary="Set a customer's tier (staff)",
        request=CustomerTierInputSerializer,
        responses=CustomerRecordOutputSerializer,
    )
    def patch(self, request, customer_id: int):
        customer = _customer_or_404(request, customer_id)
        serializer = CustomerTierInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.customer_tier_set(customer=customer, tier=serializer.validated_data["tier"], user=request.user)
        return Response(CustomerRecordOutputSerializer(_customer_or_404(request, customer_id)).data)
