from django import forms
from django.contrib import admin, messages

from core.errors import DomainError
from core.permissions import permission_check

from .models import (
    WEBHOOK_EVENTS,
    EventBatch,
    Incentive,
    Notification,
    NotificationAttempt,
    NotificationPreference,
    WebhookEndpoint,
    WebhookEndpointHealth,
)
from .selectors import notifications_about_order_number
from .services import (
    notification_retry,
    webhook_endpoint_create,
    webhook_endpoint_secret_rotate,
    webhook_endpoint_update,
)


class NotificationAttemptInline(admin.TabularInline):
    """Every delivery attempt, staff retries included (read-only: written by the delivery)."""

    model = NotificationAttempt
    fields = ["number", "started_at", "finished_at", "outcome", "status_code", "error", "duration_ms"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ["number"]

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["id", "created_at", "event", "channel", "status", "attempts", "recipient", "order", "short_error"]
    list_filter = ["status", "channel", "event", "created_at"]
    search_fields = ["order__number", "customer__email", "customer__external_id", "dedupe_key", "recipient"]
    list_select_related = ["order"]
    date_hierarchy = "created_at"
    actions = ["retry_selected"]
    inlines = [NotificationAttemptInline]
    has_retry_permission = permission_check("notifications.retry_notification")
    readonly_fields = [f.name for f in Notification._meta.fields] + ["orders_covered"]

    def has_add_permission(self, request):
        return False  # rows are written by the outbox only

    def get_search_results(self, request, queryset, search_term):
        """An order number also finds the ETA digests that list it (a digest's ``order`` is the first only)."""
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        if search_term.strip():
            results = results | notifications_about_order_number(queryset, search_term.strip())
        return results, may_have_duplicates

    @admin.display(description="Orders covered")
    def orders_covered(self, obj):
        """Every order an ETA digest lists (order numbers, in the digest's order); the order for any other row."""
        if obj.event != Notification.Event.ETA_DIGEST:
            return obj.order.number
        numbers = dict.fromkeys(item.get("order_number") for item in (obj.context or {}).get("items", []))
        return ", ".join(str(number) for number in numbers)

    def has_delete_permission(self, request, obj=None):
        return False  # the record of what customers were told is kept

    @admin.display(description="Error")
    def short_error(self, obj):
        return (obj.last_error[:80] + "…") if len(obj.last_error) > 80 else obj.last_error

    @admin.action(permissions=["retry"], description="Retry the selected notifications (not already sent)")
    def retry_selected(self, request, queryset):
        retried, refused = 0, 0
        for notification in queryset:
            try:
                notification_retry(notification=notification, user=request.user)
                retried += 1
            except DomainError:
                refused += 1
        self.message_user(request, f"{retried} queued for another try.", messages.SUCCESS)
        if refused:
            self.message_user(request, f"{refused} were already sent and were left alone.", messages.WARNING)


class WebhookEndpointForm(forms.ModelForm):
    # The outbound rules (model validator) run in the model's clean; https is assumed when no scheme is typed.
    url = forms.URLField(max_length=500, assume_scheme="https")
    events = forms.MultipleChoiceField(
        choices=WEBHOOK_EVENTS,
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["channel", "url", "events", "is_active"]


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    """The secret is never rendered: it is generated when an endpoint is added and shown once in a message; the
    *Rotate* action shows the new one once (the old one keeps signing during the grace period). Writes go through
    the same services as the API (notifications/services/webhooks.py)."""

    form = WebhookEndpointForm
    list_display = ["id", "channel", "url", "is_active", "created_at", "previous_secret_expires_at"]
    list_filter = ["is_active", "channel"]
    search_fields = ["url", "channel__code"]
    list_select_related = ["channel"]
    actions = ["rotate_secret"]

    def get_readonly_fields(self, request, obj=None):
        return ["channel"] if obj is not None else []

    def save_model(self, request, obj, form, change):
        if change:
            webhook_endpoint_update(endpoint=obj, url=obj.url, events=obj.events, is_active=obj.is_active)
            return
        endpoint, secret = webhook_endpoint_create(
            channel=obj.channel, url=obj.url, events=obj.events, is_active=obj.is_active
        )
        obj.pk = endpoint.pk
        obj.secret = endpoint.secret
        self._show_secret(request, endpoint, secret)

    def _show_secret(self, request, endpoint, secret: str) -> None:
        self.message_user(
            request,
            f"Webhook secret of endpoint {endpoint.pk} ({endpoint.channel.code}), shown once, copy it now: {secret}",
            messages.WARNING,
        )

    @admin.action(description="Rotate the secret (the old one signs on for the grace period)", permissions=["change"])
    def rotate_secret(self, request, queryset):
        for endpoint in queryset:
            endpoint, secret = webhook_endpoint_secret_rotate(endpoint=endpoint)
            self._show_secret(request, endpoint, secret)


@admin.register(WebhookEndpointHealth)
class WebhookEndpointHealthAdmin(admin.ModelAdmin):
    """Read-only: each webhook endpoint's circuit breaker (docs/operations.md)."""

    list_display = ["endpoint", "url", "consecutive_failures", "open_until", "last_failure_at", "last_success_at"]
    list_select_related = ["endpoint"]
    readonly_fields = [f.name for f in WebhookEndpointHealth._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(NotificationPreference)
class NotificationPreferenceAdmin(admin.ModelAdmin):
    list_display = ["customer", "regular_updates", "preferred_channel", "updated_at"]
    list_filter = ["regular_updates", "preferred_channel"]
    search_fields = ["customer__email", "customer__external_id", "customer__name"]
    raw_id_fields = ["customer"]


@admin.register(Incentive)
class IncentiveAdmin(admin.ModelAdmin):
    list_display = ["code", "kind", "amount", "currency", "backorder", "created_at"]
    list_filter = ["kind"]
    search_fields = ["code", "backorder__order__number"]
    readonly_fields = ["backorder", "kind", "code", "amount", "currency", "reason", "created_at"]

    def has_add_permission(self, request):
        return False


@admin.register(EventBatch)
class EventBatchAdmin(admin.ModelAdmin):
    """Read-only: batches normally live for a moment; one that stays here means no worker has picked it up."""

    list_display = ["id", "kind", "product", "first_event_id", "last_event_id", "created_at"]
    list_filter = ["kind"]
    list_select_related = ["product"]
    readonly_fields = ["kind", "product", "first_event_id", "last_event_id", "created_at"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # deleting one would lose its customers' notifications
