import django_filters
from django.db.models import Q

from core.filters import UtcIsoDateTimeFilter

from .models import Customer, Order


class StableOrderingFilter(django_filters.OrderingFilter):
    """The caller's ordering, then newest first as tie-breaker (stable pages)."""

    def filter(self, qs, value):
        if value in ([], (), {}, "", None):
            return qs
        return qs.order_by(*[self.get_ordering_value(param) for param in value], "-placed_at", "-id")


class OrderFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=Order.Status.choices, distinct=False)  # own column: no repeats
    customer = django_filters.CharFilter(
        method="filter_customer", max_length=254, label="Customer external id or email (exact, case-insensitive)"
    )
    customer_email = django_filters.CharFilter(field_name="customer__email", lookup_expr="iexact", max_length=254)
    customer_external_id = django_filters.CharFilter(field_name="customer__external_id", max_length=100)
    channel = django_filters.CharFilter(field_name="channel__code", max_length=50)
    priority = django_filters.MultipleChoiceFilter(choices=Order.Priority.choices, distinct=False)
    placed_after = UtcIsoDateTimeFilter(
        field_name="placed_at", lookup_expr="gte", label="Placed at or after (ISO 8601 date or date-time)"
    )
    placed_before = UtcIsoDateTimeFilter(
        field_name="placed_at", lookup_expr="lt", label="Placed before (ISO 8601 date or date-time)"
    )
    ordering = StableOrderingFilter(
        fields=(("placed_at", "placed_at"), ("number", "number"), ("total", "total"), ("status", "status"))
    )

    class Meta:
        model = Order
        fields: list[str] = []

    def filter_customer(self, queryset, name, value):
        # The customers first (a small table), then their orders through the customer index: an OR across the
        # join made PostgreSQL scan every order (docs/performance.md, "Reads at volume").
        customers = Customer.objects.filter(Q(external_id=value) | Q(email__iexact=value)).values("pk")
        return queryset.filter(customer_id__in=customers)
