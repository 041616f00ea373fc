"""Admin of suppliers and purchase orders. Status changes and receipts go through the services."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils.html import format_html

from core.admin import ReadOnlyAdminMixin
from core.errors import DomainError
from core.permissions import permission_check

from . import services
from .models import (
    ExpectedDateRevision,
    ForecastChoice,
    PurchaseOrder,
    PurchaseOrderLine,
    Receipt,
    ReceiptLine,
    Supplier,
    SupplierProduct,
)


class SupplierProductInline(admin.TabularInline):
    model = SupplierProduct
    extra = 0
    autocomplete_fields = ["product"]


@admin.register(Supplier)
class SupplierAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "email", "is_active"]
    list_filter = ["is_active"]
    search_fields = ["code", "name", "email"]
    inlines = [SupplierProductInline]


@admin.register(SupplierProduct)
class SupplierProductAdmin(admin.ModelAdmin):
    list_display = [
        "product",
        "supplier",
        "lead_time_days",
        "min_order_quantity",
        "pack_size",
        "unit_cost",
        "preferred",
    ]
    list_filter = ["preferred", "supplier"]
    search_fields = ["product__sku", "supplier__code", "supplier_sku"]
    autocomplete_fields = ["product"]


class PurchaseOrderLineInline(admin.TabularInline):
    model = PurchaseOrderLine
    extra = 0
    fields = ["product", "quantity_ordered", "quantity_received", "expected_date", "original_expected_date"]
    readonly_fields = ["quantity_received", "original_expected_date"]
    autocomplete_fields = ["product"]

    def has_change_permission(self, request, obj=None):
        return obj is None or obj.status == PurchaseOrder.Status.DRAFT

    def has_add_permission(self, request, obj=None):
        return obj is None or obj.status == PurchaseOrder.Status.DRAFT

    def has_delete_permission(self, request, obj=None):
        return obj is not None and obj.status == PurchaseOrder.Status.DRAFT


class ReceiveForm(forms.Form):
    def __init__(self, *args, lines, **kwargs):
        super().__init__(*args, **kwargs)
        self.lines = lines
        for line in lines:
            self.fields[f"line_{line.pk}"] = forms.IntegerField(min_value=0, max_value=1_000_000, initial=0)

    def rows(self):
        return [(line, self[f"line_{line.pk}"]) for line in self.lines]

    def receipt_lines(self) -> list[services.ReceiptLineRequest]:
        return [
            services.ReceiptLineRequest(sku=line.product.sku, quantity=self.cleaned_data[f"line_{line.pk}"])
            for line in self.lines
            if self.cleaned_data[f"line_{line.pk}"]
        ]


@admin.register(PurchaseOrder)
class PurchaseOrderAdmin(admin.ModelAdmin):
    list_display = [
        "number",
        "supplier",
        "warehouse",
        "status",
        "order_date",
        "expected_date",
        "expedite",
        "receive_link",
    ]
    list_filter = ["status", "supplier", "expedite"]
    search_fields = ["number", "supplier__code", "supplier__name"]
    date_hierarchy = "order_date"
    inlines = [PurchaseOrderLineInline]
    actions = ["send_selected", "receive_all_selected", "cancel_selected"]
    has_receive_permission = permission_check("suppliers.receive_purchase_order")
    readonly_fields = ["status", "sent_at", "received_at", "cancelled_at", "created_by", "created_at"]

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.status != PurchaseOrder.Status.DRAFT:
            # Dates of a sent order move through "revise dates" (which keeps the history), not by editing.
            return [*self.readonly_fields, "number", "supplier", "warehouse", "order_date", "expected_date"]
        return self.readonly_fields

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    def get_urls(self):
        return [
            path(
                "<int:pk>/receive/",
                self.admin_site.admin_view(self.receive_view),
                name="suppliers_purchaseorder_receive",
            ),
            *super().get_urls(),
        ]

    @admin.display(description="Receive")
    def receive_link(self, obj):
        if obj.status not in PurchaseOrder.INCOMING:
            return "—"
        return format_html('<a href="{}">Receive…</a>', reverse("admin:suppliers_purchaseorder_receive", args=[obj.pk]))

    def receive_view(self, request, pk: int):
        purchase_order = get_object_or_404(PurchaseOrder, pk=pk)
        if not (self.has_view_permission(request, purchase_order) and self.has_receive_permission(request)):
            raise PermissionDenied
        lines = [
            line for line in purchase_order.lines.select_related("product").order_by("pk") if line.quantity_outstanding
        ]
        form = ReceiveForm(request.POST or None, lines=lines)
        if request.method == "POST" and form.is_valid():
            try:
                if not form.receipt_lines():
                    raise services.InvalidInput("Enter at least one quantity.")
                receipt = services.purchase_order_receive(
                    purchase_order=purchase_order, lines=form.receipt_lines(), user=request.user
                )
            except DomainError as exc:
                form.add_error(None, exc.message)
            else:
                self.message_user(
                    request, f"Receipt {receipt.pk} recorded for {purchase_order.number}.", messages.SUCCESS
                )
                return redirect("admin:suppliers_purchaseorder_change", purchase_order.pk)
        context = {
            **self.admin_site.each_context(request),
            "purchase_order": purchase_order,
            "form": form,
            "rows": form.rows(),
            "title": "Receive",
        }
        return render(request, "admin/suppliers/receive.html", context)

    def _each(self, request, queryset, action, done_text):
        done = 0
        for purchase_order in queryset:
            try:
                action(purchase_order)
                done += 1
            except DomainError as exc:
                self.message_user(request, f"{purchase_order.number}: {exc.message}", messages.ERROR)
        if done:
            self.message_user(request, f"{done} purchase order(s) {done_text}.", messages.SUCCESS)

    @admin.action(permissions=["change"], description="Send the selected purchase orders")
    def send_selected(self, request, queryset):
        self._each(
            request, queryset, lambda po: services.purchase_order_send(purchase_order=po, user=request.user), "sent"
        )

    @admin.action(
        permissions=["receive"], description="Receive everything still to come on the selected purchase orders"
    )
    def receive_all_selected(self, request, queryset):
        def receive(po):
            lines = [
                services.ReceiptLineRequest(sku=line.product.sku, quantity=line.quantity_outstanding)
                for line in po.lines.select_related("product")
                if line.quantity_outstanding
            ]
            services.purchase_order_receive(purchase_order=po, lines=lines, user=request.user)

        self._each(request, queryset, receive, "received")

    @admin.action(permissions=["change"], description="Cancel the selected purchase orders")
    def cancel_selected(self, request, queryset):
        self._each(
            request,
            queryset,
            lambda po: services.purchase_order_cancel(
                purchase_order=po, reason="Cancelled in the admin", user=request.user
            ),
            "cancelled",
        )


@admin.register(ExpectedDateRevision)
class ExpectedDateRevisionAdmin(admin.ModelAdmin):
    list_display = ["line", "old_date", "new_date", "reason", "expedite_cost", "created_by", "created_at"]
    search_fields = ["line__purchase_order__number", "reason"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class ReceiptLineInline(admin.TabularInline):
    model = ReceiptLine
    extra = 0
    readonly_fields = ["purchase_order_line", "quantity"]
    can_delete = False


@admin.register(Receipt)
class ReceiptAdmin(admin.ModelAdmin):
    list_display = ["pk", "purchase_order", "received_at", "created_by"]
    search_fields = ["purchase_order__number"]
    inlines = [ReceiptLineInline]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ForecastChoice)
class ForecastChoiceAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The forecast method planning uses per product and how well it backtested (refreshed nightly)."""

    list_display = ["product", "method", "wape", "bias", "skill_vs_naive", "skill_vs_seasonal_naive", "computed_on"]
    list_filter = ["method", "computed_on"]
    search_fields = ["product__sku"]
