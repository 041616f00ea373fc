"""API v1 views of inventory: products, warehouses, stock levels and stock adjustments."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import IsChannelOrStaff, IsStaff, JSONParser
from core.errors import NotFoundError
from core.filters import StrictFilterBackend, UpdatedSinceFilter

from . import selectors, services
from .filters import ProductFilter, StockItemFilter
from .serializers import (
    ProductCreateInputSerializer,
    ProductOutputSerializer,
    StockAdjustmentInputSerializer,
    StockItemOutputSerializer,
    StockMovementOutputSerializer,
    WarehouseCreateInputSerializer,
    WarehouseOutputSerializer,
    lots_from_input,
)


class StaffWritesMixin:
    """Reads for channels and staff; writes for staff with the permissions in the view's ``required_permissions``."""

    def get_permissions(self):
        if self.request.method in ("GET", "HEAD", "OPTIONS"):
            return [IsChannelOrStaff()]
        return [IsStaff()]


def _product_or_404(sku: str):
    product = selectors.product_get(sku=sku)
    if product is None:
        raise NotFoundError(f"No product with SKU {sku[:64]!r}.")
    return product


class ProductListCreateApi(StaffWritesMixin, generics.ListAPIView):
    required_permissions = {"POST": ["inventory.add_product"]}
    parser_classes = [JSONParser]
    serializer_class = ProductOutputSerializer
    filter_backends = [StrictFilterBackend, UpdatedSinceFilter]
    filterset_class = ProductFilter

    def get_queryset(self):
        return selectors.products_with_availability().order_by("sku")

    @extend_schema(summary="List products with their availability", responses=ProductOutputSerializer(many=True))
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        summary="Create a product (staff)",
        request=ProductCreateInputSerializer,
        responses={201: ProductOutputSerializer},
    )
    def post(self, request):
        serializer = ProductCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        product = services.product_create(**serializer.validated_data)
        return Response(
            ProductOutputSerializer(_product_or_404(product.sku)).data,
            status=status.HTTP_201_CREATED,
        )


class WarehouseListCreateApi(generics.ListAPIView):
    required_permissions = {"POST": ["inventory.add_warehouse"]}
    permission_classes = [IsStaff]
    parser_classes = [JSONParser]
    serializer_class = WarehouseOutputSerializer

    def get_queryset(self):
        return selectors.warehouses_list()

    @extend_schema(summary="List warehouses (staff)", responses=WarehouseOutputSerializer(many=True))
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        summary="Create a warehouse (staff)",
        request=WarehouseCreateInputSerializer,
        responses={201: WarehouseOutputSerializer},
    )
    def post(self, request):
        serializer = WarehouseCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        warehouse = services.warehouse_create(**serializer.validated_data)
        return Response(WarehouseOutputSerializer(warehouse).data, status=status.HTTP_201_CREATED)


class StockListApi(generics.ListAPIView):
    permission_classes = [IsStaff]
    serializer_class = StockItemOutputSerializer
    filter_backends = [StrictFilterBackend, UpdatedSinceFilter]
    filterset_class = StockItemFilter

    def get_queryset(self):
        return selectors.stock_items_list().order_by("product__sku", "warehouse__code")

    @extend_schema(summary="Stock per product and warehouse (staff)")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class StockAdjustmentApi(APIView):
    required_permissions = {"POST": ["inventory.adjust_stock"]}
    permission_classes = [IsStaff]
    parser_classes = [JSONParser]

    @extend_schema(
        summary="Adjust stock (staff): writes one ledger movement",
        request=StockAdjustmentInputSerializer,
        responses={201: StockMovementOutputSerializer},
    )
    def post(self, request):
        serializer = StockAdjustmentInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        movement = services.stock_adjust(
            sku=data["sku"],
            warehouse_code=data["warehouse"],
            quantity=data["quantity"],
            reason=data["reason"],
            reference=data["reference"],
            lots=lots_from_input(data.get("lots")),
            user=request.user,
        )
        return Response(StockMovementOutputSerializer(movement).data, status=status.HTTP_201_CREATED)
