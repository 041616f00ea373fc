"""API v1 routes of this app (mounted under /api/v1/ by config.urls)."""

from django.urls import path

from . import apis

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
]
