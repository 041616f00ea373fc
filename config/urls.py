from csp.constants import SELF, UNSAFE_INLINE
from csp.decorators import csp_update
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView

import config.openapi  # noqa: F401  (registers the Api-Key scheme with drf-spectacular)
from config.health import health
from dashboard.apis import BackorderCostApi, MetricsApi
from fulfilment.views import order_status

api_v1 = [
    path("", include("inventory.urls")),
    path("", include("orders.urls")),
    path("", include("fulfilment.urls")),
    path("", include("backorders.urls")),
    path("", include("suppliers.urls")),
    path("", include("notifications.urls")),
    path("", include("exchange.urls")),
    path("metrics/", MetricsApi.as_view(), name="api-metrics"),
    path("reports/backorder-cost/", BackorderCostApi.as_view(), name="api-backorder-cost"),
]

# Swagger UI and Redoc (self-hosted, see SPECTACULAR_SETTINGS) set inline styles; Redoc runs a blob: worker.
# Scripts stay 'self' only: the split Swagger view serves its init script as a file.
docs_csp = csp_update({"style-src": [UNSAFE_INLINE], "worker-src": [SELF, "blob:"]})

urlpatterns = [
    path("health/", health, name="health"),
    # The customer's status page (signed link, no login): docs/terms.md.
    path("s/<str:token>", order_status, name="order-status"),
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", docs_csp(SpectacularSwaggerSplitView.as_view(url_name="schema")), name="api-docs"),
    path(
        "api/redoc/",
        docs_csp(SpectacularRedocView.as_view(url_name="schema", template_name="api/redoc.html")),
        name="api-redoc",
    ),
    path("", include("dashboard.urls", namespace="dashboard")),
]

handler404 = "core.api.api_aware_404"
handler500 = "core.api.api_aware_500"
