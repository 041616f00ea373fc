"""API v1 routes of this app (mounted under /api/v1/ by config.urls)."""

from django.urls import path

from . import apis

urlpatterns = [
    path("customers/", apis.CustomerListApi.as_view(), name="customer-list"),
    path("customers/<int:customer_id>/", apis.CustomerDetailApi.as_view(), name="customer-detail"),
    path("customers/<int:customer_id>/terms/", apis.CustomerTermsApi.as_view(), name="customer-terms"),
    path("channels/<str:code>/terms/", apis.ChannelTermsApi.as_view(), name="channel-terms"),
]
