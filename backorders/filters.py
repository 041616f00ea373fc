from datetime import timedelta

import django_filters
from django import forms
from django.db.models import Q
from django.utils import timezone

from core.filters import UtcIsoDateTimeFilter
from orders.models import Customer

from .models import PRIORITY_RANKS, Backorder
from .queue import QUEUE_ORDER

MAX_AGE_DAYS = 36_500  # a bound keeps "now - age" a valid date


class StableOrderingFilter(django_filters.OrderingFilter):
    """Ordering chosen by the caller, then the queue order as tie-breaker (stable pages)."""

    def filter(self, qs, value):
        if value in ([], (), {}, "", None):
            return qs
        ordering = [self.get_ordering_value(param) for param in value]
        return qs.order_by(*ordering, *QUEUE_ORDER)


class AgeFilter(django_filters.NumberFilter):
    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 0)
        kwargs.setdefault("max_value", MAX_AGE_DAYS)
        super().__init__(*args, **kwargs)


class BackorderFilter(django_filters.FilterSet):
    # distinct=False: each filters a column of the row itself (no join can repeat a row), and DISTINCT made the
    # count and the page sort every column of every matching row.
    status = django_filters.MultipleChoiceFilter(choices=Backorder.Status.choices, distinct=False)
    sku = django_filters.CharFilter(field_name="product__sku", max_length=64)
    customer = django_filters.CharFilter(
        method="filter_customer", max_length=254, label="Customer external id or email (exact, case-insensitive)"
    )
    # The backorder's copy of its order's channel (an index, no join with the orders).
    channel = django_filters.CharFilter(field_name="channel__code", max_length=50)
    order = django_filters.CharFilter(field_name="order__number", max_length=32)
    priority = django_filters.MultipleChoiceFilter(choices=[(p, p) for p in PRIORITY_RANKS], distinct=False)
    eta_basis = django_filters.MultipleChoiceFilter(choices=Backorder.EtaBasis.choices, distinct=False)
    reason = django_filters.MultipleChoiceFilter(choices=Backorder.Reason.choices, distinct=False)
    min_age = AgeFilter(method="filter_min_age", label="Created at least this many days ago")
    max_age = AgeFilter(method="filter_max_age", label="Created at most this many days ago")
    sla_breached = django_filters.BooleanFilter(label="Marked as past its SLA ship-by date")
    sla_due_before = UtcIsoDateTimeFilter(
        field_name="sla_due_at", lookup_expr="lt", label="SLA ship-by date before (ISO 8601)"
    )
    has_sla = django_filters.BooleanFilter(field_name="sla_due_at", lookup_expr="isnull", exclude=True)
    ordering = StableOrderingFilter(
        fields=(
            ("created_at", "created_at"),
            ("priority_rank", "priority"),
            ("eta", "eta"),
            ("placed_at", "placed_at"),
            ("sla_due_at", "sla_due_at"),
        ),
        help_text="created_at, priority, eta, placed_at, sla_due_at (due soonest; prefix - for descending). "
        "Default: queue order.",
    )

    class Meta:
        model = Backorder
        fields: list[str] = []

    def filter_customer(self, queryset, name, value):
        # The customers first (a small table), then their orders and backorders through the indexes: an OR across
        # the joins made PostgreSQL scan every backorder (docs/performance.md, "Reads at volume").
        customers = Customer.objects.filter(Q(external_id=value) | Q(email__iexact=value)).values("pk")
        return queryset.filter(order__customer_id__in=customers)

    def filter_min_age(self, queryset, name, value):
        return queryset.filter(created_at__lte=timezone.now() - timedelta(days=int(value)))

    def filter_max_age(self, queryset, name, value):
        return queryset.filter(created_at__gte=timezone.now() - timedelta(days=int(value)))
