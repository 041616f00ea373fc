"""API v1 of webhook endpoints: a sales channel registers, changes and tests its own (staff: every channel's).

In its own module, not ``apis.py``, to keep both under the size limit (tests/core/test_architecture.py). A channel
sees only its own endpoints (another's id is a 404); staff see all and change them with the
``notifications.{add,change,delete}_webhookendpoint`` permissions (the Admin role).
"""

from __future__ import annotations

import django_filters
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import IsChannelOrStaff, JSONParser, StrictSerializer, request_channel
from core.errors import InvalidInput, NotFoundError
from core.filters import UpdatedSinceFilter
from core.throttling import ClientRateThrottle, WebhookPingThrottle
from orders.models import SalesChannel

from .models import WEBHOOK_EVENTS, NotificationAttempt, WebhookEndpoint, WebhookEndpointHealth
from .selectors import webhook_endpoint_deliveries, webhook_endpoints
from .services import (
    webhook_endpoint_create,
    webhook_endpoint_delete,
    webhook_endpoint_ping,
    webhook_endpoint_secret_rotate,
    webhook_endpoint_update,
)

EVENTS = WEBHOOK_EVENTS

# --- input ---------------------------------------------------------------------------------------


class WebhookEndpointCreateInput(StrictSerializer):
    url = serializers.CharField(max_length=500, help_text="https:// URL of a public host.")
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=EVENTS), min_length=1, max_length=len(EVENTS) * 2
    )
    is_active = serializers.BooleanField(required=False, default=True)
    channel = serializers.SlugField(
        required=False, max_length=50, help_text="Staff only: the sales channel's code. A channel leaves it out."
    )


class WebhookEndpointUpdateInput(StrictSerializer):
    url = serializers.CharField(max_length=500, required=False)
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=EVENTS), min_length=1, max_length=len(EVENTS) * 2, required=False
    )
    is_active = serializers.BooleanField(required=False)


# --- output --------------------------------------------------------------------------------------


class WebhookEndpointHealthOutput(serializers.ModelSerializer):
    class Meta:
        model = WebhookEndpointHealth
        fields = ["consecutive_failures", "open_until", "last_failure_at", "last_success_at", "last_error"]


class WebhookEndpointOutput(serializers.ModelSerializer):
    channel = serializers.CharField(source="channel.code")
    events = serializers.ListField(child=serializers.ChoiceField(choices=EVENTS))
    health = serializers.SerializerMethodField(help_text="The endpoint's circuit breaker; null before its first send.")

    class Meta:
        model = WebhookEndpoint
        fields = [
            "id",
            "channel",
            "url",
            "events",
            "is_active",
            "previous_secret_expires_at",
            "created_at",
            "updated_at",
            "health",
        ]

    @extend_schema_field(WebhookEndpointHealthOutput(allow_null=True))
    def get_health(self, endpoint):
        try:
            health = endpoint.health
        except WebhookEndpointHealth.DoesNotExist:
            return None
        return WebhookEndpointHealthOutput(health).data


class WebhookEndpointSecretOutput(WebhookEndpointOutput):
    """At creation and rotation only: the secret, shown this once."""

    secret = serializers.CharField(help_text="Shown once: store it now. Signs X-Signature.")

    class Meta(WebhookEndpointOutput.Meta):
        fields = [*WebhookEndpointOutput.Meta.fields, "secret"]


class WebhookPingOutput(serializers.Serializer):
    delivered = serializers.BooleanField(help_text="The receiver answered 2xx.")
    status_code = serializers.IntegerField(allow_null=True)
    error = serializers.CharField(help_text="Our short words; empty when delivered.")
    duration_ms = serializers.IntegerField()
    message_id = serializers.CharField(help_text="X-Notification-Id and the body's id.")


class WebhookDeliveryOutput(serializers.ModelSerializer):
    """One delivery attempt (``NotificationAttempt``) to the endpoint."""

    notification = serializers.IntegerField(source="notification_id")
    message_id = serializers.CharField(source="notification.dedupe_key")
    event = serializers.ChoiceField(source="notification.event", choices=EVENTS)
    attempt = serializers.IntegerField(source="number")

    class Meta:
        model = NotificationAttempt
        fields = [
            "id",
            "notification",
            "message_id",
            "event",
            "attempt",
            "started_at",
            "finished_at",
            "outcome",
            "status_code",
            "error",
            "duration_ms",
            "updated_at",
        ]


# --- views ---------------------------------------------------------------------------------------


def _endpoint_for(request, pk: int) -> WebhookEndpoint:
    """The endpoint if the caller may see it: staff see all, a channel only its own (404 otherwise)."""
    endpoint = webhook_endpoints(channel=request_channel(request)).filter(pk=pk).first()
    if endpoint is None:
        raise NotFoundError(f"No webhook endpoint {pk}.")
    return endpoint


class WebhookEndpointFilter(django_filters.FilterSet):
    channel = django_filters.CharFilter(field_name="channel__code", help_text="Staff: one channel's endpoints.")
    is_active = django_filters.BooleanFilter()

    class Meta:
        model = WebhookEndpoint
        fields = ["channel", "is_active"]


class WebhookEndpointListApi(ListAPIView):
    parser_classes = [JSONParser]  # JSON bodies only, as the schema says
    """A channel's webhook endpoints (staff: every channel's), and registering a new one."""

    required_permissions = {"POST": ["notifications.add_webhookendpoint"]}
    permission_classes = [IsChannelOrStaff]
    serializer_class = WebhookEndpointOutput
    filterset_class = WebhookEndpointFilter
    ordering_fields = ["id", "created_at"]

    def get_queryset(self):
        return webhook_endpoints(channel=request_channel(self.request))

    @extend_schema(
        summary="Register a webhook endpoint (the secret is in this response only)",
        request=WebhookEndpointCreateInput,
        responses={201: WebhookEndpointSecretOutput},
    )
    def post(self, request):
        data = WebhookEndpointCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        code = values.pop("channel", None)
        channel = request_channel(request)
        if channel is not None and code is not None:
            raise InvalidInput(
                "A sales channel registers endpoints for itself only: leave out channel.",
                details={"errors": {"channel": ["not accepted from a sales channel"]}},
            )
        if channel is None:
            if code is None:
                raise InvalidInput("Name the sales channel (channel).", details={"errors": {"channel": ["required"]}})
            channel = SalesChannel.objects.filter(code=code).first()
            if channel is None:
                raise InvalidInput(f"No sales channel {code!r}.", details={"errors": {"channel": ["unknown"]}})
        endpoint, secret = webhook_endpoint_create(channel=channel, **values)
        endpoint = webhook_endpoints().get(pk=endpoint.pk)
        endpoint.secret = secret
        return Response(WebhookEndpointSecretOutput(endpoint).data, status=status.HTTP_201_CREATED)


class WebhookEndpointDetailApi(APIView):
    parser_classes = [JSONParser]  # JSON bodies only, as the schema says
    required_permissions = {
        "PATCH": ["notifications.change_webhookendpoint"],
        "DELETE": ["notifications.delete_webhookendpoint"],
    }
    permission_classes = [IsChannelOrStaff]

    @extend_schema(summary="A webhook endpoint (never its secret)", responses=WebhookEndpointOutput)
    def get(self, request, pk: int):
        return Response(WebhookEndpointOutput(_endpoint_for(request, pk)).data)

    @extend_schema(
        summary="Change a webhook endpoint's URL, events or active flag",
        request=WebhookEndpointUpdateInput,
        responses=WebhookEndpointOutput,
    )
    def patch(self, request, pk: int):
        endpoint = _endpoint_for(request, pk)
        data = WebhookEndpointUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        endpoint = webhook_endpoint_update(endpoint=endpoint, **data.validated_data)
        return Response(WebhookEndpointOutput(webhook_endpoints().get(pk=endpoint.pk)).data)

    @extend_schema(summary="Delete a webhook endpoint", responses={204: None})
    def delete(self, request, pk: int):
        webhook_endpoint_delete(endpoint=_endpoint_for(request, pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookEndpointRotateSecretApi(APIView):
    parser_classes = [JSONParser]  # JSON bodies only, as the schema says
    required_permissions = {"POST": ["notifications.change_webhookendpoint"]}
    permission_classes = [IsChannelOrStaff]

    @extend_schema(
        summary="A new secret (in this response only); the old one keeps signing X-Signature-Previous for a while",
        request=None,
        responses=WebhookEndpointSecretOutput,
    )
    def post(self, request, pk: int):
        endpoint, secret = webhook_endpoint_secret_rotate(endpoint=_endpoint_for(request, pk))
        endpoint = webhook_endpoints().get(pk=endpoint.pk)
        endpoint.secret = secret
        return Response(WebhookEndpointSecretOutput(endpoint).data)


class WebhookEndpointPingApi(APIView):
    parser_classes = [JSONParser]  # JSON bodies only, as the schema says
    """Sends a signed ``ping`` event now and answers with the outcome (200 either way)."""

    required_permissions = {"POST": ["notifications.change_webhookendpoint"]}
    permission_classes = [IsChannelOrStaff]
    throttle_classes = [ClientRateThrottle, WebhookPingThrottle]

    @extend_schema(summary="Send a signed test event now", request=None, responses=WebhookPingOutput)
    def post(self, request, pk: int):
        result = webhook_endpoint_ping(endpoint=_endpoint_for(request, pk))
        return Response(WebhookPingOutput(result).data)


class WebhookEndpointDeliveriesApi(ListAPIView):
    """The endpoint's delivery log: every attempt, newest first, with the answer's status code and timing."""

    permission_classes = [IsChannelOrStaff]
    serializer_class = WebhookDeliveryOutput
    filter_backends = [UpdatedSinceFilter]

    def get_queryset(self):
        return webhook_endpoint_deliveries(_endpoint_for(self.request, self.kwargs["pk"]))
