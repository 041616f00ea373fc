import django_filters

from .models import Lot, Product


class ProductFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=Product.Status.choices)
    # Strict: "maybe" is a 400, not silently "no filter" (django-filter's BooleanFilter ignores bad values).
    backorderable = django_filters.TypedChoiceFilter(
        choices=[("true", "true"), ("false", "false")], coerce=lambda value: value == "true"
    )
    search = django_filters.CharFilter(method="filter_search", max_length=200, label="SKU or name contains")

    class Meta:
        model = Product
        fields: list[str] = []

    def filter_search(self, queryset, name, value):
        from django.db.models import Q

        return queryset.filter(Q(sku__icontains=value) | Q(name__icontains=value))


class StockItemFilter(django_filters.FilterSet):
    sku = django_filters.CharFilter(field_name="product__sku", max_length=64)
    warehouse = django_filters.CharFilter(field_name="warehouse__code", max_length=32)
    ordering = django_filters.OrderingFilter(
        fields=(("product__sku", "sku"), ("warehouse__code", "warehouse"), ("on_hand", "on_hand"))
    )


class LotFilter(django_filters.FilterSet):
    product = django_filters.CharFilter(field_name="product__sku", max_length=64, label="Product SKU")
    warehouse = django_filters.CharFilter(field_name="warehouse__code", max_length=32, label="Warehouse code")
    expiring_before = django_filters.DateFilter(field_name="expiry_date", lookup_expr="lt", label="Expires before")
    status = django_filters.ChoiceFilter(choices=Lot.Status.choices)

    class Meta:
        model = Lot
        fields: list[str] = []
