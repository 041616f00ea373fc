"""API v1 routes of this app (mounted under /api/v1/ by config.urls)."""

from django.urls import path

from . import apis, webhook_apis

urlpatterns: list = [
    path("notifications/", apis.NotificationListApi.as_view(), name="notification-list"),
    path("notifications/<int:pk>/", apis.NotificationDetailApi.as_view(), name="notification-detail"),
    path("notifications/<int:pk>/retry/", apis.NotificationRetryApi.as_view(), name="notification-retry"),
    path(
        "backorders/<int:pk>/notifications/",
        apis.BackorderNotificationsApi.as_view(),
        name="backorder-notifications",
    ),
    path("backorders/<int:pk>/notify/", apis.BackorderNotifyApi.as_view(), name="backorder-notify"),
    path(
        "customers/<str:external_id>/notification-preferences/",
        apis.CustomerPreferenceApi.as_view(),
        name="customer-notification-preferences",
    ),
    path("webhooks/", webhook_apis.WebhookEndpointListApi.as_view(), name="webhook-list"),
    path("webhooks/<int:pk>/", webhook_apis.WebhookEndpointDetailApi.as_view(), name="webhook-detail"),
    path(
        "webhooks/<int:pk>/rotate-secret/",
        webhook_apis.WebhookEndpointRotateSecretApi.as_view(),
        name="webhook-rotate-secret",
    ),
    path("webhooks/<int:pk>/ping/", webhook_apis.WebhookEndpointPingApi.as_view(), name="webhook-ping"),
    path(
        "webhooks/<int:pk>/deliveries/",
        webhook_apis.WebhookEndpointDeliveriesApi.as_view(),
        name="webhook-deliveries",
    ),
]
