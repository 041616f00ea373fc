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
from .models import Customer, CustomerTerms, SalesChannel


class CustomerRecordOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    channel = serializers.CharField(source="channel.code", allow_null=True, default=None)
    external_id = serializers.CharField()
    email = serializers.EmailField()
    name = serializers.CharField()
    tier = serializers.ChoiceField(choices=Customer.Tier.choices, help_text="Set by staff.")
    allow_split = serializers.BooleanField(
        help_text="Set by staff: false ships each order line whole from one warehouse (or it waits)."
    )
    lifetime_value = serializers.DecimalField(
        max_digits=14, decimal_places=2, help_text="Value of everything shipped to the customer."
    )
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField(help_text="Last change of this record (what ?updated_since= filters on).")


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


# --- terms (staff) --------------------------------------------------------------------------------


class TermsInputSerializer(StrictSerializer):
    max_wait_days = serializers.IntegerField(min_value=0, max_value=3650, allow_null=True, required=False)
    auto_cancel_after_days = serializers.IntegerField(min_value=0, max_value=3650, allow_null=True, required=False)
    sla_days = serializers.IntegerField(min_value=0, max_value=3650, allow_null=True, required=False)
    allow_partial = serializers.BooleanField(required=False)
    accepts_substitutes = serializers.BooleanField(required=False)


class TermsOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField(allow_null=True)
    scope = serializers.SerializerMethodField()
    customer = serializers.IntegerField(source="customer_id", allow_null=True)
    channel = serializers.SerializerMethodField()
    max_wait_days = serializers.IntegerField(allow_null=True)
    auto_cancel_after_days = serializers.IntegerField(allow_null=True)
    sla_days = serializers.IntegerField(allow_null=True)
    allow_partial = serializers.BooleanField()
    accepts_substitutes = serializers.BooleanField()
    updated_at = serializers.DateTimeField(allow_null=True)

    def get_scope(self, terms) -> str:
        return "customer" if terms.customer_id else "channel_default"

    def get_channel(self, terms) -> str | None:
        channel = terms.channel or (terms.customer.channel if terms.customer_id else None)
        return channel.code if channel else None


class _TermsApi(APIView):
    """GET the terms (404 when none are set), PUT to write them (fields left out keep their value), DELETE to
    remove them. Staff only: terms are agreed with the customer, not set by the storefront."""

    permission_classes = [IsStaff]
    parser_classes = [JSONParser]
    required_permissions = {"PUT": ["orders.change_customerterms"], "DELETE": ["orders.delete_customerterms"]}

    def _owner(self, **kwargs) -> dict:
        raise NotImplementedError

    def _terms(self, owner: dict) -> CustomerTerms:
        terms = (
            CustomerTerms.objects.select_related("channel", "customer__channel")
            .filter(
                **(
                    {"customer": owner["customer"]}
                    if owner.get("customer")
                    else {"channel": owner["channel"], "customer": None}
                )
            )
            .first()
        )
        if terms is None:
            raise NotFoundError("No terms set here.")
        return terms

    def get(self, request, **kwargs):
        return Response(TermsOutputSerializer(self._terms(self._owner(**kwargs))).data)

    def put(self, request, **kwargs):
        owner = self._owner(**kwargs)
        serializer = TermsInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.customer_terms_set(**owner, **serializer.validated_data)
        return Response(TermsOutputSerializer(self._terms(owner)).data)

    def delete(self, request, **kwargs):
        services.customer_terms_delete(terms=self._terms(self._owner(**kwargs)))
        return Response(status=204)


@extend_schema(tags=["terms"], request=TermsInputSerializer, responses=TermsOutputSerializer)
class CustomerTermsApi(_TermsApi):
    def _owner(self, *, customer_id: int) -> dict:
        customer = selectors.customer_get(customer_id=customer_id)
        if customer is None:
            raise NotFoundError(f"No customer {customer_id}.")
        return {"customer": customer}


@extend_schema(tags=["terms"], request=TermsInputSerializer, responses=TermsOutputSerializer)
class ChannelTermsApi(_TermsApi):
    def _owner(self, *, code: str) -> dict:
        channel = SalesChannel.objects.filter(code=code[:50]).first()
        if channel is None:
            raise NotFoundError(f"No sales channel {code[:50]!r}.")
        return {"channel": channel}
