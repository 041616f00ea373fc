"""API v1 routes of this app (mounted under /api/v1/ by config.urls)."""

from django.urls import path

from . import apis

urlpatterns = [
    path("products/", apis.ProductListCreateApi.as_view(), name="product-list"),
    path("warehouses/", apis.WarehouseListCreateApi.as_view(), name="warehouse-list"),
    path("stock/", apis.StockListApi.as_view(), name="stock-list"),
    path("stock/adjustments/", apis.StockAdjustmentApi.as_view(), name="stock-adjustment"),
]
