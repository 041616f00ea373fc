"""API v1 routes of this app (mounted under /api/v1/ by config.urls)."""

from django.urls import path

from . import apis, transfer_apis

urlpatterns = [
    path("products/", apis.ProductListCreateApi.as_view(), name="product-list"),
    path("warehouses/", apis.WarehouseListCreateApi.as_view(), name="warehouse-list"),
    path("stock/", apis.StockListApi.as_view(), name="stock-list"),
    path("stock/adjustments/", apis.StockAdjustmentApi.as_view(), name="stock-adjustment"),
    path("transfers/", transfer_apis.TransferListCreateApi.as_view(), name="transfer-list"),
    path("transfers/<str:number>/", transfer_apis.TransferDetailApi.as_view(), name="transfer-detail"),
    path("transfers/<str:number>/ship/", transfer_apis.TransferShipApi.as_view(), name="transfer-ship"),
    path("transfers/<str:number>/receive/", transfer_apis.TransferReceiveApi.as_view(), name="transfer-receive"),
    path("transfers/<str:number>/cancel/", transfer_apis.TransferCancelApi.as_view(), name="transfer-cancel"),
]
