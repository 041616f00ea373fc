from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

import config.openapi  # noqa: F401  (registers the Api-Key scheme with drf-spectacular)
from dashboard.apis import MetricsApi

api_v1 = [
    path("", include("inventory.urls")),
    path("", include("fulfilment.urls")),
    path("", include("backorders.urls")),
    path("", include("suppliers.urls")),
    path("", include("notifications.urls")),
    path("metrics/", MetricsApi.as_view(), name="api-metrics"),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("", include("dashboard.urls", namespace="dashboard")),
]

handler404 = "core.api.api_aware_404"
handler500 = "core.api.api_aware_500"
