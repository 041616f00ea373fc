"""Admin of backorders: read-only records with their history; changes go through the services."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db import transaction

from core.admin import ReadOnlyAdminMixin
from core.errors import DomainError
from core.permissions import permission_check
from fulfilment import services as fulfilment_services

from . import selectors, services
from .models import AllocationPolicy, AllocationRecord, AllocationRun, Backorder, BackorderEvent


class BackorderEventInline(admin.TabularInline):
    model = BackorderEvent
    fields = ["created_at", "kind", "quantity", "message", "actor"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ["created_at", "id"]

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Backorder)
class BackorderAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "order",
        "product",
        "status",
        "quantity",
        "quantity_allocated",
        "outstanding",
        "priority",
        "queue_position",
        "eta",
        "eta_basis",
        "sla_due_at",
        "sla_breached",
        "created_at",
    ]
    list_filter = ["status", "priority", "eta_basis", "reason", "sla_breached", "created_at"]
    search_fields = ["order__number", "product__sku", "order__customer__email", "order__customer__external_id"]
    date_hierarchy = "created_at"
    inlines = [BackorderEventInline]
    actions = [
        "cancel_selected",
        "priority_critical",
        "priority_high",
        "priority_normal",
        "reallocate_to_selected",
        "send_update_selected",
    ]
    readonly_fields = [f.name for f in Backorder._meta.fields] + ["outstanding", "queue_position"]

    def get_queryset(self, request):
        return selectors.backorder_list_with_positions()

    has_change_priority_permission = permission_check("backorders.change_priority")
    has_reallocate_permission = permission_check("backorders.reallocate")
    has_cancel_backorder_permission = permission_check("backorders.cancel_backorder")
    has_send_update_permission = permission_check("notifications.send_update")

    def has_add_permission(self, request):
        return False  # backorders are created by order placement

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="Outstanding")
    def outstanding(self, obj):
        return obj.quantity_outstanding

    @admin.display(description="Queue position", ordering="queue_position")
    def queue_position(self, obj):
        return obj.queue_position

    def _priority(self, request, queryset, priority: str):
        from .admin_actions import priority_change_selected

        priority_change_selected(self, request, queryset, priority)

    @admin.action(permissions=["change_priority"], description="Set priority to critical (recorded with your name)")
    def priority_critical(self, request, queryset):
        self._priority(request, queryset, "critical")

    @admin.action(permissions=["change_priority"], description="Set priority to high (recorded with your name)")
    def priority_high(self, request, queryset):
        self._priority(request, queryset, "high")

    @admin.action(permissions=["change_priority"], description="Set priority to normal (recorded with your name)")
    def priority_normal(self, request, queryset):
        self._priority(request, queryset, "normal")

    @admin.action(permissions=["send_update"], description="Send an update to the customer (free-text note)…")
    def send_update_selected(self, request, queryset):
        from .admin_actions import send_update_selected

        return send_update_selected(self, request, queryset)

    @admin.action(
        permissions=["reallocate"],
        description="Reallocate reserved units of lower-priority backorders to the selected ones",
    )
    def reallocate_to_selected(self, request, queryset):
        from .admin_actions import reallocate_selected

        reallocate_selected(self, request, queryset)

    @admin.action(permissions=["cancel_backorder"], description="Cancel the waiting units of the selected backorders")
    def cancel_selected(self, request, queryset):
        done = 0
        for backorder in queryset.select_related("order", "product"):
            try:
                fulfilment_services.backorder_cancel(
                    backorder=backorder, reason="Cancelled in the admin", user=request.user
                )
                done += 1
            except DomainError as exc:
                self.message_user(request, f"Backorder {backorder.pk}: {exc.message}", messages.ERROR)
        if done:
            self.message_user(request, f"{done} backorder(s) cancelled.", messages.SUCCESS)


@admin.register(BackorderEvent)
class BackorderEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["created_at", "backorder", "kind", "quantity", "actor", "message"]
    list_filter = ["kind", "created_at"]
    search_fields = ["backorder__id", "backorder__order__number", "message", "actor"]
    date_hierarchy = "created_at"


class AllocationPolicyForm(forms.ModelForm):
    class Meta:
        model = AllocationPolicy
        fields = [
            "name",
            "is_active",
            "standard_weight",
            "silver_weight",
            "gold_weight",
            "platinum_weight",
            "lifetime_value_weight",
            "lifetime_value_cap",
            "sla_breach_priority",
            "notes",
        ]

    def _get_validation_exclusions(self):
        # "One active policy" is kept by save_model (it retires the previous one), not refused by the form.
        return {*super()._get_validation_exclusions(), "is_active"}


@admin.register(AllocationPolicy)
class AllocationPolicyAdmin(admin.ModelAdmin):
    form = AllocationPolicyForm
    list_display = [
        "name",
        "is_active",
        "standard_weight",
        "silver_weight",
        "gold_weight",
        "platinum_weight",
        "lifetime_value_weight",
        "lifetime_value_cap",
        "sla_breach_priority",
        "updated_at",
    ]
    list_filter = ["is_active"]
    search_fields = ["name"]

    def save_model(self, request, obj, form, change):
        # Exactly one policy is active (a partial unique constraint): activating one retires the other.
        # The active policy's weights re-score every waiting backorder (one UPDATE), so the queue follows at once.
        with transaction.atomic():
            if obj.is_active:
                AllocationPolicy.objects.select_for_update().filter(is_active=True).exclude(pk=obj.pk).update(
                    is_active=False
                )
            super().save_model(request, obj, form, change)
            if obj.is_active:
                services.policy_scores_recompute(policy=obj)


@admin.register(AllocationRun)
class AllocationRunAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Allocation task bookkeeping: a product whose allocation keeps failing stops after N attempts."""

    list_display = ["product", "attempts", "runs", "units_allocated", "last_run_at", "last_success_at", "last_error"]
    list_filter = ["attempts"]
    search_fields = ["product__sku"]
    actions = ["reset_selected"]
    # The admin itself cannot change these rows (read-only); resetting one is the allocation planner's call.
    has_reset_permission = permission_check("backorders.change_allocationrun")

    @admin.action(permissions=["reset"], description="Reset the attempt counter and allocate again")
    def reset_selected(self, request, queryset):
        for run in queryset:
            services.allocation_run_reset(product_id=run.product_id)
        self.message_user(request, f"{queryset.count()} product(s) queued for allocation.", messages.SUCCESS)


@admin.register(AllocationRecord)
class AllocationRecordAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """What each allocation run did: who got what, who was passed over and why (docs/promises.md)."""

    list_display = ["product", "run_at", "source", "units_free", "units_allocated", "passed_over_count"]
    list_filter = ["run_at"]
    search_fields = ["product__sku", "source"]
    date_hierarchy = "run_at"
