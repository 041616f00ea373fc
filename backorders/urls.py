"""API v1 routes of this app (mounted under /api/v1/ by config.urls)."""

from django.urls import path

from . import apis, apis_actions
from .api_metrics import MetricsApi

urlpatterns = [
    path("metrics/", MetricsApi.as_view(), name="api-metrics"),
    path("backorders/", apis.BackorderListApi.as_view(), name="backorder-list"),
    path("backorders/<int:backorder_id>/", apis.BackorderDetailApi.as_view(), name="backorder-detail"),
    path(
        "backorders/<int:backorder_id>/priority/",
        apis_actions.BackorderPriorityApi.as_view(),
        name="backorder-priority",
    ),
    path(
        "backorders/<int:backorder_id>/reallocate/",
        apis_actions.BackorderReallocateApi.as_view(),
        name="backorder-reallocate",
    ),
]
