"""API v1 routes of this app (mounted under /api/v1/ by config.urls)."""

from django.urls import path

from . import apis

urlpatterns = [
    path("products/<str:sku>/", apis.ProductDetailApi.as_view(), name="product-detail"),
    path("backorders/", apis.BackorderListApi.as_view(), name="backorder-list"),
    path("backorders/<int:backorder_id>/", apis.BackorderDetailApi.as_view(), name="backorder-detail"),
    path("backorders/<int:backorder_id>/priority/", apis.BackorderPriorityApi.as_view(), name="backorder-priority"),
    path(
        "backorders/<int:backorder_id>/reallocate/", apis.BackorderReallocateApi.as_view(), name="backorder-reallocate"
    ),
    path("backorders/<int:pk>/alternatives/", apis.BackorderAlternativesApi.as_view(), name="backorder-alternatives"),
    path(
        "backorders/<int:pk>/accept-substitute/",
        apis.BackorderAcceptSubstituteApi.as_view(),
        name="backorder-accept-substitute",
    ),
]
