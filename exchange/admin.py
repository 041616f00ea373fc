"""Admin of exchange: import jobs and inbound events are history (read-only); inbound sources are set up here."""

from __future__ import annotations

from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html

from core.admin import ReadOnlyAdminMixin

from .inbound import inbound_source_create, inbound_source_rotate_secret
from .models import ImportJob, InboundEvent, InboundSource


@admin.register(ImportJob)
class ImportJobAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "id",
        "kind",
        "filename",
        "status",
        "dry_run",
        "partial",
        "created",
        "updated",
        "unchanged",
        "refused",
        "created_by",
        "created_at",
        "page",
    ]
    list_filter = ["kind", "status", "dry_run"]
    exclude = ["content"]
    readonly_fields = ["page"]

    def get_queryset(self, request):
        return super().get_queryset(request).defer("content").select_related("created_by")

    @admin.display(description="Dashboard")
    def page(self, obj):
        return format_html('<a href="{}">progress and errors</a>', reverse("dashboard:import", args=[obj.pk]))


@admin.register(InboundSource)
class InboundSourceAdmin(admin.ModelAdmin):
    """A new source gets a generated secret, shown once in the confirmation message; "rotate secret" makes a new
    one (the old one stops working at once)."""

    list_display = ["code", "name", "supplier", "is_active", "created_at"]
    fields = ["code", "name", "supplier", "is_active"]
    actions = ["rotate_secret"]

    def get_readonly_fields(self, request, obj=None):
        return ["code", "supplier"] if obj else []

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        source, secret = inbound_source_create(
            code=obj.code, name=obj.name, supplier_code=obj.supplier.code if obj.supplier else None
        )
        obj.pk, obj.secret = source.pk, source.secret
        messages.warning(request, f"Secret of {source.code} (shown once, keep it with the sender): {secret}")

    @admin.action(description="Rotate the secret (shown once)")
    def rotate_secret(self, request, queryset):
        for source in queryset:
            secret = inbound_source_rotate_secret(source=source)
            messages.warning(request, f"New secret of {source.code} (shown once): {secret}")


@admin.register(InboundEvent)
class InboundEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["event_id", "source", "event_type", "received_at"]
    list_filter = ["event_type", "source"]
    search_fields = ["event_id"]
