"""API v1 routes of this app (mounted under /api/v1/ by config.urls)."""

from django.urls import path

from . import apis

urlpatterns = [
    path("orders/", apis.OrderListCreateApi.as_view(), name="order-list"),
    path("orders/<str:number>/", apis.OrderDetailApi.as_view(), name="order-detail"),
    path("orders/<str:number>/ship/", apis.OrderShipApi.as_view(), name="order-ship"),
    path("orders/<str:number>/cancel/", apis.OrderCancelApi.as_view(), name="order-cancel"),
    path("lots/", apis.LotListApi.as_view(), name="lot-list"),
    path("lots/<int:lot_id>/", apis.LotDetailApi.as_view(), name="lot-detail"),
    path("lots/<int:lot_id>/hold/", apis.LotHoldApi.as_view(), name="lot-hold"),
    path("lots/<int:lot_id>/release/", apis.LotReleaseApi.as_view(), name="lot-release"),
]
