"""API v1 routes of this app (mounted under /api/v1/ by config.urls)."""

from django.urls import path

from . import apis

urlpatterns = [
    path("suppliers/", apis.SupplierListCreateApi.as_view(), name="supplier-list"),
    path("supplier-products/", apis.SupplierProductListCreateApi.as_view(), name="supplier-product-list"),
    path("purchase-orders/", apis.PurchaseOrderListCreateApi.as_view(), name="purchase-order-list"),
    path("purchase-orders/<str:number>/", apis.PurchaseOrderDetailApi.as_view(), name="purchase-order-detail"),
    path("purchase-orders/<str:number>/send/", apis.PurchaseOrderSendApi.as_view(), name="purchase-order-send"),
    path("purchase-orders/<str:number>/cancel/", apis.PurchaseOrderCancelApi.as_view(), name="purchase-order-cancel"),
    path(
        "purchase-orders/<str:number>/receive/", apis.PurchaseOrderReceiveApi.as_view(), name="purchase-order-receive"
    ),
    path("shortages/", apis.ShortageListApi.as_view(), name="shortage-list"),
    path("planning/", apis.PlanningApi.as_view(), name="planning"),
    path("planning/backtest/", apis.PlanningBacktestApi.as_view(), name="planning-backtest"),
]
