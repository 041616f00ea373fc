"""Admin of inventory. Stock quantities are never edited here: an adjustment writes a ledger movement."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from core.admin import ReadOnlyAdminMixin
from core.errors import DomainError
from core.permissions import permission_check

from . import selectors, services, transfers
from .models import Lot, Product, StockItem, StockMovement, Transfer, TransferLine, Warehouse
from .serializers import MAX_ADJUSTMENT


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["sku", "name", "unit_price", "status", "backorderable", "tracking", "available", "on_hand"]
    list_filter = ["status", "backorderable", "tracking"]
    search_fields = ["sku", "name"]
    filter_horizontal = ["substitutes"]
    readonly_fields = ["created_at", "updated_at"]

    def get_queryset(self, request):
        return selectors.products_with_availability()

    def get_readonly_fields(self, request, obj=None):
        # The SKU is the storefronts' key, tracking decides whether stock has lots: both fixed once created.
        return [*self.readonly_fields, "sku", "tracking"] if obj else self.readonly_fields

    @admin.display(ordering="available")
    def available(self, obj):
        return obj.available

    @admin.display(ordering="on_hand")
    def on_hand(self, obj):
        return obj.on_hand

    def save_model(self, request, obj, form, change):
        # Through the services, so that discontinuing a product cancels what still waits for it.
        data = {name: form.cleaned_data[name] for name in ("name", "unit_price", "status", "backorderable")}
        if form.cleaned_data.get("min_shelf_life_days") is not None:
            data["min_shelf_life_days"] = form.cleaned_data["min_shelf_life_days"]
        if change:
            services.product_update(product=obj, **data)
        else:
            created = services.product_create(
                sku=form.cleaned_data["sku"], tracking=form.cleaned_data.get("tracking") or "none", **data
            )
            obj.pk = created.pk
            obj._state.adding = False


@admin.register(Warehouse)
class WarehouseAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "is_active", "priority"]
    list_filter = ["is_active"]
    search_fields = ["code", "name"]
    fields = ["code", "name", "is_active", "priority"]

    def get_readonly_fields(self, request, obj=None):
        return ["code"] if obj else []

    def save_model(self, request, obj, form, change):
        if change:
            # Through the service: (de)activating or re-prioritising re-offers the stock and moves the ETAs.
            services.warehouse_update(
                warehouse=obj, name=obj.name, is_active=obj.is_active, priority=obj.priority, user=request.user
            )
        else:
            created = services.warehouse_create(
                code=obj.code, name=obj.name, is_active=obj.is_active, priority=obj.priority
            )
            obj.pk = created.pk
            obj._state.adding = False


class StockMovementInline(admin.TabularInline):
    model = StockMovement
    fields = ["created_at", "kind", "quantity", "reason", "reference", "actor"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ["-created_at", "-id"]
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class StockAdjustmentForm(forms.Form):
    quantity = forms.IntegerField(
        min_value=-MAX_ADJUSTMENT,
        max_value=MAX_ADJUSTMENT,
        help_text="Signed: +5 adds five units, -2 removes two.",
    )
    reason = forms.CharField(max_length=200, help_text="Why, e.g. 'cycle count', 'damaged in aisle 3'.")
    reference = forms.CharField(max_length=100, required=False)

    def clean_quantity(self):
        quantity = self.cleaned_data["quantity"]
        if quantity == 0:
            raise forms.ValidationError("An adjustment must change the quantity.")
        return quantity


@admin.register(StockItem)
class StockItemAdmin(admin.ModelAdmin):
    list_display = ["product", "warehouse", "on_hand", "allocated", "available", "adjust_link"]
    list_filter = ["warehouse"]
    search_fields = ["product__sku", "product__name", "warehouse__code"]
    list_select_related = ["product", "warehouse"]
    autocomplete_fields = ["product"]
    inlines = [StockMovementInline]
    actions = ["adjust_selected"]
    has_adjust_stock_permission = permission_check("inventory.adjust_stock")

    def get_readonly_fields(self, request, obj=None):
        # Quantities move only through the ledger (adjustment, receipt, shipment).
        return ["product", "warehouse", "on_hand", "allocated", "available"] if obj else []

    def get_fields(self, request, obj=None):
        return ["product", "warehouse", "on_hand", "allocated", "available"] if obj else ["product", "warehouse"]

    @admin.display(description="Available")
    def available(self, obj):
        return obj.available

    @admin.display(description="Adjust")
    def adjust_link(self, obj):
        return format_html('<a href="{}">Adjust stock</a>', reverse("admin:inventory_stockitem_adjust", args=[obj.pk]))

    def save_model(self, request, obj, form, change):
        if not change:
            created = services.stock_item_get_or_create(product=obj.product, warehouse=obj.warehouse)
            obj.pk = created.pk
            obj._state.adding = False

    def get_urls(self):
        return [
            path(
                "<path:object_id>/adjust/",
                self.admin_site.admin_view(self.adjust_view),
                name="inventory_stockitem_adjust",
            ),
            *super().get_urls(),
        ]

    @admin.action(permissions=["adjust_stock"], description="Adjust stock of the selected item")
    def adjust_selected(self, request, queryset):
        items = list(queryset[:2])
        if len(items) != 1:
            self.message_user(request, "Select exactly one stock item to adjust.", messages.WARNING)
            return None
        return HttpResponseRedirect(reverse("admin:inventory_stockitem_adjust", args=[items[0].pk]))

    def adjust_view(self, request, object_id):
        if not self.has_view_permission(request) or not self.has_adjust_stock_permission(request):
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied
        item = get_object_or_404(StockItem.objects.select_related("product", "warehouse"), pk=object_id)
        form = StockAdjustmentForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                movement = services.stock_adjust(
                    sku=item.product.sku,
                    warehouse_code=item.warehouse.code,
                    quantity=form.cleaned_data["quantity"],
                    reason=form.cleaned_data["reason"],
                    reference=form.cleaned_data["reference"],
                    user=request.user,
                )
            except DomainError as exc:
                form.add_error(None, exc.message)
            else:
                self.message_user(request, f"Recorded: {movement}.", messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:inventory_stockitem_change", args=[item.pk]))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "item": item,
            "form": form,
            "title": f"Adjust stock of {item.product.sku} at {item.warehouse.code}",
        }
        return TemplateResponse(request, "admin/inventory/stockitem/adjust.html", context)


@admin.register(StockMovement)
class StockMovementAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["created_at", "sku", "warehouse", "kind", "quantity", "reason", "reference", "actor"]
    list_filter = ["kind", "stock_item__warehouse", "created_at"]
    search_fields = ["stock_item__product__sku", "reason", "reference", "actor"]
    list_select_related = ["stock_item__product", "stock_item__warehouse"]
    date_hierarchy = "created_at"

    @admin.display(ordering="stock_item__product__sku", description="SKU")
    def sku(self, obj):
        return obj.stock_item.product.sku

    @admin.display(ordering="stock_item__warehouse__code")
    def warehouse(self, obj):
        return obj.stock_item.warehouse.code


@admin.register(Lot)
class LotAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Lots are written by receipts, shipments and the expiry task; holds and releases go through the API or the
    dashboard's lot page (they return reservations to the queue: fulfilment's use case, docs/lots.md)."""

    list_display = [
        "number",
        "product",
        "warehouse",
        "expiry_date",
        "status",
        "quantity_received",
        "on_hand",
        "allocated",
        "quarantined",
    ]
    list_filter = ["status", "warehouse", "expiry_date"]
    search_fields = ["number", "product__sku", "product__name"]
    list_select_related = ["product", "warehouse"]
    date_hierarchy = "expiry_date"


class TransferLineInline(admin.TabularInline):
    model = TransferLine
    fields = ["product", "quantity"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Transfer)
class TransferAdmin(admin.ModelAdmin):
    """Transfers are created through the API or the dashboard (a service validates them); here they are read and
    moved along their states (each action checks its permission and goes through ``inventory.transfers``)."""

    list_display = ["number", "source", "destination", "status", "expected_date", "created_at", "created_by"]
    list_filter = ["status", "source", "destination"]
    search_fields = ["number", "note", "lines__product__sku"]
    list_select_related = ["source", "destination", "created_by"]
    inlines = [TransferLineInline]
    fields = [
        "number",
        "source",
        "destination",
        "status",
        "expected_date",
        "note",
        "created_by",
        "created_at",
        "shipped_at",
        "received_at",
        "cancelled_at",
    ]
    readonly_fields = fields
    actions = ["ship_selected", "receive_selected", "cancel_selected"]
    has_ship_transfer_permission = permission_check("inventory.ship_transfer")
    has_receive_transfer_permission = permission_check("inventory.receive_transfer")
    has_cancel_transfer_permission = permission_check("inventory.cancel_transfer")

    def has_add_permission(self, request):
        return False  # POST /api/v1/transfers/ or the dashboard's transfer page

    def has_delete_permission(self, request, obj=None):
        return False

    def _each(self, request, queryset, action, verb: str):
        done, failed = 0, []
        for transfer in queryset.order_by("pk"):
            try:
                action(transfer=transfer, user=request.user)
                done += 1
            except DomainError as exc:
                failed.append(f"{transfer.number}: {exc.message}")
        if done:
            self.message_user(request, f"{done} transfer(s) {verb}.", messages.SUCCESS)
        for message in failed:
            self.message_user(request, message, messages.ERROR)

    @admin.action(permissions=["ship_transfer"], description="Ship the selected transfers (units leave the source)")
    def ship_selected(self, request, queryset):
        self._each(request, queryset, transfers.transfer_ship, "shipped")

    @admin.action(permissions=["receive_transfer"], description="Receive the selected transfers at their destination")
    def receive_selected(self, request, queryset):
        self._each(request, queryset, transfers.transfer_receive, "received")

    @admin.action(permissions=["cancel_transfer"], description="Cancel the selected transfers")
    def cancel_selected(self, request, queryset):
        self._each(request, queryset, transfers.transfer_cancel, "cancelled")
