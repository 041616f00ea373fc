"""API v1 routes of this app (mounted under /api/v1/ by config.urls)."""

from django.urls import path  # noqa: F401

from .api_metrics import MetricsApi

urlpatterns: list = [
    path("metrics/", MetricsApi.as_view(), name="api-metrics"),
]
