"""Admin of orders. Orders are placed through the API; here staff read them and ship or cancel them
through the same services the API uses."""

from __future__ import annotations

from django.contrib import admin, messages

from core.admin import ReadOnlyAdminMixin
from core.errors import DomainError
from core.permissions import permission_check
from fulfilment import services as fulfilment_services

from . import services
from .models import (
    Allocation,
    ApiKey,
    Customer,
    CustomerTerms,
    LotAllocation,
    Order,
    OrderLine,
    SalesChannel,
    Shipment,
    ShipmentLine,
)


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ["external_id", "channel", "name", "email", "tier", "allow_split", "lifetime_value", "created_at"]
    list_filter = ["tier", "channel", "allow_split"]
    search_fields = ["external_id", "email", "name"]
    readonly_fields = ["created_at"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if change and "tier" in form.changed_data:
            services.customer_tier_set(customer=obj, tier=obj.tier, user=request.user)  # re-scores the queue


class ApiKeyInline(admin.TabularInline):
    model = ApiKey
    fields = ["prefix", "name", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(SalesChannel)
class SalesChannelAdmin(admin.ModelAdmin):
    """A channel's webhooks are its endpoints: admin → Notifications → Webhook endpoints, or the API."""

    list_display = ["code", "name", "kind", "is_active"]
    list_filter = ["kind", "is_active"]
    search_fields = ["code", "name"]
    inlines = [ApiKeyInline]
    filter_horizontal = ["warehouses"]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["prefix", "channel", "name", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["channel", ("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["prefix", "name", "channel__code"]
    list_select_related = ["channel"]
    actions = ["revoke_selected"]

    def get_fields(self, request, obj=None):
        return ["channel", "name"] if obj is None else ["channel", "name", "prefix", "created_at", "revoked_at"]

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else ["channel", "prefix", "created_at", "revoked_at"]

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        api_key, raw_key = services.api_key_create(channel_code=obj.channel.code, name=obj.name)
        obj.pk = api_key.pk
        obj._state.adding = False
        self.message_user(
            request,
            f"API key for {api_key.channel.code} (shown once, copy it now): {raw_key}",
            messages.WARNING,
        )

    @admin.action(permissions=["change"], description="Revoke the selected API keys")
    def revoke_selected(self, request, queryset):
        for api_key in queryset:
            services.api_key_revoke(api_key=api_key)
        self.message_user(request, f"{queryset.count()} key(s) revoked.", messages.SUCCESS)


class OrderLineInline(admin.TabularInline):
    model = OrderLine
    fields = [
        "product",
        "quantity",
        "unit_price",
        "quantity_allocated",
        "quantity_backordered",
        "quantity_shipped",
        "quantity_cancelled",
    ]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("product")


class ShipmentInline(admin.TabularInline):
    model = Shipment
    fields = ["shipped_at", "tracking_reference", "created_by"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ["number", "placed_at", "customer", "channel", "status", "ship_policy", "priority", "total"]
    list_filter = ["status", "ship_policy", "priority", "channel", "placed_at"]
    search_fields = ["number", "customer__email", "customer__external_id", "customer__name"]
    list_select_related = ["customer", "channel"]
    date_hierarchy = "placed_at"
    inlines = [OrderLineInline, ShipmentInline]
    actions = ["ship_selected", "cancel_selected"]
    has_ship_order_permission = permission_check("orders.ship_order")
    has_cancel_order_permission = permission_check("orders.cancel_order")
    readonly_fields = [
        "number",
        "customer",
        "channel",
        "placed_at",
        "status",
        "ship_policy",
        "allow_split",
        "priority",
        "requested_date",
        "currency",
        "total",
        "cancelled_at",
        "created_by",
    ]
    fields = readonly_fields

    def has_add_permission(self, request):
        return False  # orders come in through the API (POST /api/v1/orders/)

    def has_delete_permission(self, request, obj=None):
        return False

    def _each(self, request, queryset, action, verb: str):
        done, failed = 0, []
        for order in queryset:
            try:
                action(order)
                done += 1
            except DomainError as exc:
                failed.append(f"{order.number}: {exc.message}")
        if done:
            self.message_user(request, f"{done} order(s) {verb}.", messages.SUCCESS)
        for message in failed:
            self.message_user(request, message, messages.ERROR)

    @admin.action(permissions=["ship_order"], description="Ship what is allocated on the selected orders")
    def ship_selected(self, request, queryset):
        self._each(
            request, queryset, lambda order: fulfilment_services.order_ship(order=order, user=request.user), "shipped"
        )

    @admin.action(permissions=["cancel_order"], description="Cancel the selected orders (everything not shipped yet)")
    def cancel_selected(self, request, queryset):
        self._each(
            request,
            queryset,
            lambda order: fulfilment_services.order_cancel(
                order=order, reason="Cancelled in the admin", user=request.user
            ),
            "cancelled",
        )


class ShipmentLineInline(admin.TabularInline):
    model = ShipmentLine
    fields = ["order_line", "stock_item", "quantity"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Shipment)
class ShipmentAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["id", "order", "shipped_at", "tracking_reference", "created_by"]
    search_fields = ["order__number", "tracking_reference"]
    list_select_related = ["order", "created_by"]
    date_hierarchy = "shipped_at"
    inlines = [ShipmentLineInline]


@admin.register(Allocation)
class AllocationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["id", "order_line", "stock_item", "quantity", "created_at"]
    search_fields = ["order_line__order__number", "stock_item__product__sku"]
    list_select_related = ["order_line", "stock_item"]


@admin.register(LotAllocation)
class LotAllocationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["id", "order_line", "lot", "quantity", "created_at"]
    search_fields = ["order_line__order__number", "lot__number", "lot__product__sku"]
    list_select_related = ["order_line", "lot"]


@admin.register(CustomerTerms)
class CustomerTermsAdmin(admin.ModelAdmin):
    """A customer's terms, or a channel's default (docs/terms.md). A customer's row replaces the default."""

    list_display = [
        "__str__",
        "customer",
        "channel",
        "max_wait_days",
        "auto_cancel_after_days",
        "sla_days",
        "allow_partial",
        "accepts_substitutes",
        "updated_at",
    ]
    list_filter = ["channel", "allow_partial", "accepts_substitutes"]
    search_fields = ["customer__email", "customer__external_id", "channel__code"]
    raw_id_fields = ["customer"]
