"""API v1 of the outbox, the customer preferences, manual updates and substitute acceptance."""

from __future__ import annotations

import django_filters
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView, RetrieveAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import IsChannelOrStaff, IsStaff, request_channel
from core.errors import NotFoundError
from core.filters import UpdatedSinceFilter, WholeNumberFilter
from orders.selectors import customer_by_external_id

from .models import Notification, NotificationAttempt, NotificationPreference
from .selectors import (
    notification_detail,
    notification_list,
    notifications_about_order_number,
    notifications_for_backorder,
)
from .serializers import NotificationSummaryOutput
from .services import notification_manual_update, notification_preference_set, notification_retry

# --- output -------------------------------------------------------------------------------------


class NotificationOutput(serializers.ModelSerializer):
    order = serializers.CharField(source="order.number")
    customer = serializers.CharField(source="customer.external_id")
    backorder = serializers.IntegerField(source="backorder_id", allow_null=True)

    class Meta:
        model = Notification
        fields = [
            "id",
            "event",
            "channel",
            "status",
            "attempts",
            "recipient",
            "subject",
            "last_error",
            "next_attempt_at",
            "sent_at",
            "created_at",
            "updated_at",
            "order",
            "backorder",
            "customer",
            "dedupe_key",
        ]


class NotificationAttemptOutput(serializers.ModelSerializer):
    class Meta:
        model = NotificationAttempt
        fields = ["number", "started_at", "finished_at", "outcome", "status_code", "error", "duration_ms"]


class NotificationDetailOutput(NotificationOutput):
    attempt_log = NotificationAttemptOutput(many=True, read_only=True)

    class Meta(NotificationOutput.Meta):
        fields = [
            *NotificationOutput.Meta.fields,
            "attempts_before_retry",
            "rendered_at",
            "body_text",
            "body_html",
            "payload",
            "context",
            "attempt_log",
        ]


class PreferenceOutput(serializers.ModelSerializer):
    customer = serializers.CharField(source="customer.external_id")

    class Meta:
        model = NotificationPreference
        fields = ["customer", "regular_updates", "preferred_channel", "updated_at"]


# --- notifications (staff) ----------------------------------------------------------------------


class NotificationFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=Notification.Status.choices)
    channel = django_filters.ChoiceFilter(choices=Notification.Channel.choices)
    event = django_filters.ChoiceFilter(choices=Notification.Event.choices)
    order = django_filters.CharFilter(method="filter_order", help_text="Order number (ETA digests listing it too).")
    customer = django_filters.CharFilter(field_name="customer__external_id")
    backorder = WholeNumberFilter(field_name="backorder_id")

    class Meta:
        model = Notification
        fields = ["status", "channel", "event", "order", "customer", "backorder"]

    def filter_order(self, queryset, name, value):
        return notifications_about_order_number(queryset, value)


class NotificationListApi(ListAPIView):
    permission_classes = [IsStaff]
    serializer_class = NotificationOutput
    filterset_class = NotificationFilter
    ordering_fields = ["created_at", "id", "attempts"]

    def get_queryset(self):
        return notification_list()


class NotificationDetailApi(RetrieveAPIView):
    permission_classes = [IsStaff]
    serializer_class = NotificationDetailOutput

    def get_queryset(self):
        return notification_detail()


class NotificationRetryApi(APIView):
    required_permissions = {"POST": ["notifications.retry_notification"]}
    permission_classes = [IsStaff]

    @extend_schema(
        summary="Retry a failed notification (409 if already sent)", request=None, responses=NotificationDetailOutput
    )
    def post(self, request, pk: int):
        notification = get_object_or_404(Notification, pk=pk)
        notification = notification_retry(notification=notification, user=request.user)
        return Response(NotificationDetailOutput(notification_detail().get(pk=notification.pk)).data)


# --- backorders: notifications, manual update, alternatives --------------------------------------


def _backorder_for(request, pk: int):
    """The backorder if the caller may see it: staff see all, a channel only its own orders' backorders."""
    from backorders.models import Backorder

    backorder = Backorder.objects.select_related("order", "product").filter(pk=pk).first()
    channel = request_channel(request)
    if backorder is None or (channel is not None and backorder.order.channel_id != channel.pk):
        raise NotFoundError(f"No backorder {pk}.")
    return backorder


class BackorderNotificationsApi(ListAPIView):
    permission_classes = [IsChannelOrStaff]
    serializer_class = NotificationSummaryOutput
    filter_backends = [UpdatedSinceFilter]

    def get_queryset(self):
        return notifications_for_backorder(_backorder_for(self.request, self.kwargs["pk"]))


class ManualUpdateInput(serializers.Serializer):
    note = serializers.CharField(max_length=2000, allow_blank=False, trim_whitespace=True)


class BackorderNotifyApi(APIView):
    """Staff send the customer a free-text update about a backorder."""

    required_permissions = {"POST": ["notifications.send_update"]}
    permission_classes = [IsStaff]

    @extend_schema(
        summary="Send the customer a free-text update",
        request=ManualUpdateInput,
        responses={201: NotificationSummaryOutput(many=True)},
    )
    def post(self, request, pk: int):
        backorder = _backorder_for(request, pk)
        data = ManualUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        notifications = notification_manual_update(
            backorder=backorder, note=data.validated_data["note"], user=request.user
        )
        return Response(NotificationSummaryOutput(notifications, many=True).data, status=status.HTTP_201_CREATED)


# --- customer preferences ------------------------------------------------------------------------


class PreferenceInput(serializers.Serializer):
    regular_updates = serializers.BooleanField(required=False)
    preferred_channel = serializers.ChoiceField(choices=NotificationPreference.Channel.choices, required=False)


class CustomerPreferenceApi(APIView):
    """A customer's notification preferences. A channel reaches only its own customers (by their external id); staff
    name the channel with ``?channel=<code>`` when several channels have a customer with that id."""

    required_permissions = {
        "PUT": ["notifications.change_notificationpreference"],
        "PATCH": ["notifications.change_notificationpreference"],
    }
    permission_classes = [IsChannelOrStaff]

    def _customer(self, request, external_id: str):
        customer = customer_by_external_id(
            external_id=external_id, channel=request_channel(request), channel_code=request.query_params.get("channel")
        )
        if customer is None:
            raise NotFoundError(f"No customer {external_id[:50]!r}.")
        return customer

    @extend_schema(summary="A customer's notification preferences", responses=PreferenceOutput)
    def get(self, request, external_id: str):
        customer = self._customer(request, external_id)
        preference = NotificationPreference.objects.filter(customer=customer).first() or NotificationPreference(
            customer=customer
        )
        return Response(PreferenceOutput(preference).data)

    @extend_schema(
        summary="Change a customer's notification preferences", request=PreferenceInput, responses=PreferenceOutput
    )
    def put(self, request, external_id: str):
        customer = self._customer(request, external_id)
        data = PreferenceInput(data=request.data)
        data.is_valid(raise_exception=True)
        preference = notification_preference_set(customer=customer, user=request.user, **data.validated_data)
        return Response(PreferenceOutput(preference).data)

    patch = put
