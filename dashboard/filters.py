"""The backorder queue's filter form (django-filter) on the staff dashboard."""

from __future__ import annotations

from datetime import timedelta

import django_filters
from django.db.models import Q
from django.utils import timezone

from backorders.models import Backorder
from orders.models import Customer, Order

from .selectors import STATUS_CHOICES


def order_number_variants(value: str) -> set[str]:
    """Order numbers are issued in capitals: match what was typed and its capitalised form with the unique
    index (a case-insensitive comparison would scan every order)."""
    return {value, value.upper()}


class QueueFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_q", label="Order, SKU or email")
    product = django_filters.CharFilter(field_name="product__sku", lookup_expr="iexact", label="SKU")
    customer = django_filters.CharFilter(method="filter_customer", label="Customer")
    tier = django_filters.ChoiceFilter(
        field_name="order__customer__tier", choices=Customer.Tier.choices, empty_label="Any tier"
    )
    channel = django_filters.CharFilter(field_name="channel__code", label="Channel")  # the copy: no join
    priority = django_filters.ChoiceFilter(choices=Order.Priority.choices, empty_label="Any priority")
    status = django_filters.ChoiceFilter(method="filter_status", choices=STATUS_CHOICES, empty_label=None)
    min_age = django_filters.NumberFilter(method="filter_min_age", min_value=0, max_value=3650, label="Min age (days)")
    # Shorter than the model's labels, so the select stays narrow; the same values.
    eta_basis = django_filters.ChoiceFilter(
        choices=[
            (Backorder.EtaBasis.PURCHASE_ORDER_HISTORY, "PO + measured slips"),
            (Backorder.EtaBasis.PURCHASE_ORDER, "Purchase order"),
            (Backorder.EtaBasis.TRANSFER, "Transfer in transit"),
            (Backorder.EtaBasis.LEAD_TIME_HISTORY, "Measured lead time"),
            (Backorder.EtaBasis.LEAD_TIME, "Lead time (estimate)"),
            (Backorder.EtaBasis.NONE, "No date yet"),
        ],
        label="ETA basis",
        empty_label="Any basis",
    )
    reason = django_filters.ChoiceFilter(choices=Backorder.Reason.choices, empty_label="Any reason")
    order = django_filters.CharFilter(method="filter_order", label="Order number")
    sla = django_filters.ChoiceFilter(
        method="filter_sla",
        choices=[("breached", "Breached"), ("due_7", "Due within 7 days"), ("any", "Has an SLA")],
        label="SLA",
        empty_label="Any SLA",
    )

    class Meta:
        model = Backorder
        fields: list = []

    def __init__(self, data=None, *args, **kwargs):
        data = data.copy() if data is not None else {}
        if not data.get("status"):
            data["status"] = "waiting"
        super().__init__(data, *args, **kwargs)
        for field in self.form.fields.values():
            if hasattr(field, "choices"):
                # A new choice applies at once; typed filters wait for Enter / Apply.
                field.widget.attrs["data-autosubmit"] = "request"  # static/dashboard/dashboard.js

    def filter_sla(self, queryset, name, value):
        if value == "breached":
            return queryset.filter(sla_breached=True)
        if value == "due_7":
            return queryset.filter(sla_due_at__lte=timezone.now() + timedelta(days=7))
        return queryset.filter(sla_due_at__isnull=False)

    def filter_q(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(order__number__in=order_number_variants(value))
            | Q(product__sku__iexact=value)
            | Q(order__customer__email__iexact=value)
        )

    def filter_order(self, queryset, name, value):
        return queryset.filter(order__number__in=order_number_variants(value.strip()))

    def filter_customer(self, queryset, name, value):
        value = value.strip()
        return queryset.filter(Q(order__customer__email__iexact=value) | Q(order__customer__name__icontains=value))

    def filter_status(self, queryset, name, value):
        if value == "waiting":
            return queryset.filter(status__in=Backorder.WAITING)
        if value == "all":
            return queryset
        return queryset.filter(status=value)

    def filter_min_age(self, queryset, name, value):
        return queryset.filter(created_at__lte=timezone.now() - timedelta(days=int(value)))
