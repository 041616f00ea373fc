"""API v1 views of suppliers, purchase orders, receipts and shortages (staff only)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import IsStaff, JSONParser
from core.errors import NotFoundError
from core.filters import UpdatedSinceFilter
from inventory.serializers import lots_from_input

from . import selectors, services
from .forecast import BacktestPage
from .planning import replenishment_plan
from .serializers import (
    BacktestQuerySerializer,
    BacktestRowOutputSerializer,
    PlanningQuerySerializer,
    PlanningRowOutputSerializer,
    PurchaseOrderCreateInputSerializer,
    PurchaseOrderDetailOutputSerializer,
    PurchaseOrderOutputSerializer,
    PurchaseOrderReviseInputSerializer,
    ReasonInputSerializer,
    ReceiveInputSerializer,
    ShortageOutputSerializer,
    SupplierInputSerializer,
    SupplierOutputSerializer,
    SupplierProductInputSerializer,
    SupplierProductOutputSerializer,
    WarehouseQuerySerializer,
)


class StaffApi:
    permission_classes = [IsStaff]
    parser_classes = [JSONParser]


def _po_or_404(number: str):
    purchase_order = selectors.purchase_order_get(number=number)
    if purchase_order is None:
        raise NotFoundError(f"No purchase order {number[:40]!r}.")
    return purchase_order


def _po_response(number: str, code=status.HTTP_200_OK) -> Response:
    return Response(PurchaseOrderDetailOutputSerializer(_po_or_404(number)).data, status=code)


class SupplierListCreateApi(StaffApi, generics.ListAPIView):
    required_permissions = {"POST": ["suppliers.add_supplier"]}
    serializer_class = SupplierOutputSerializer

    def get_queryset(self):
        return selectors.supplier_list()

    @extend_schema(
        summary="Create a supplier", request=SupplierInputSerializer, responses={201: SupplierOutputSerializer}
    )
    def post(self, request):
        serializer = SupplierInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        supplier = services.supplier_create(**serializer.validated_data)
        return Response(SupplierOutputSerializer(supplier).data, status=status.HTTP_201_CREATED)


class SupplierProductListCreateApi(StaffApi, generics.ListAPIView):
    required_permissions = {"POST": ["suppliers.add_supplierproduct", "suppliers.change_supplierproduct"]}
    serializer_class = SupplierProductOutputSerializer

    def get_queryset(self):
        return selectors.supplier_product_list()

    @extend_schema(
        summary="Create or update what a supplier sells (lead time, MOQ, pack size, cost, preferred)",
        request=SupplierProductInputSerializer,
        responses={201: SupplierProductOutputSerializer},
    )
    def post(self, request):
        serializer = SupplierProductInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        item = services.supplier_product_upsert(supplier_code=data.pop("supplier"), **data)
        return Response(SupplierProductOutputSerializer(item).data, status=status.HTTP_201_CREATED)


class PurchaseOrderListCreateApi(StaffApi, generics.ListAPIView):
    required_permissions = {"POST": ["suppliers.add_purchaseorder"]}
    serializer_class = PurchaseOrderOutputSerializer

    def get_queryset(self):
        return selectors.purchase_order_list().order_by("-id")

    @extend_schema(
        summary="Create a purchase order (draft, or sent with send=true)",
        request=PurchaseOrderCreateInputSerializer,
        responses={201: PurchaseOrderDetailOutputSerializer},
    )
    def post(self, request):
        serializer = PurchaseOrderCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        purchase_order = services.purchase_order_create(
            supplier_code=data["supplier"],
            warehouse_code=data["warehouse"],
            expected_date=data["expected_date"],
            lines=[services.PurchaseOrderLineRequest(**line) for line in data["lines"]],
            notes=data["notes"],
            expedite=data["expedite"],
            send=data["send"],
            user=request.user,
        )
        return _po_response(purchase_order.number, status.HTTP_201_CREATED)


class PurchaseOrderDetailApi(StaffApi, APIView):
    required_permissions = {"PATCH": ["suppliers.change_purchaseorder"]}

    @extend_schema(
        summary="One purchase order with its lines and date revisions", responses=PurchaseOrderDetailOutputSerializer
    )
    def get(self, request, number: str):
        return _po_response(number)

    @extend_schema(
        summary="Revise expected dates (whole order and/or single lines), with a reason",
        request=PurchaseOrderReviseInputSerializer,
        responses=PurchaseOrderDetailOutputSerializer,
    )
    def patch(self, request, number: str):
        purchase_order = _po_or_404(number)
        serializer = PurchaseOrderReviseInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        services.purchase_order_revise_dates(
            purchase_order=purchase_order,
            reason=data["reason"],
            expected_date=data.get("expected_date"),
            lines={line["sku"]: line["expected_date"] for line in data.get("lines", [])},
            expedite_cost=data["expedite_cost"],
            user=request.user,
        )
        return _po_response(number)


class PurchaseOrderSendApi(StaffApi, APIView):
    required_permissions = {"POST": ["suppliers.change_purchaseorder"]}

    @extend_schema(
        summary="Send a draft purchase order to the supplier",
        request=None,
        responses=PurchaseOrderDetailOutputSerializer,
    )
    def post(self, request, number: str):
        services.purchase_order_send(purchase_order=_po_or_404(number), user=request.user)
        return _po_response(number)


class PurchaseOrderCancelApi(StaffApi, APIView):
    required_permissions = {"POST": ["suppliers.change_purchaseorder"]}

    @extend_schema(
        summary="Cancel what is still to come on a purchase order",
        request=ReasonInputSerializer,
        responses=PurchaseOrderDetailOutputSerializer,
    )
    def post(self, request, number: str):
        purchase_order = _po_or_404(number)
        serializer = ReasonInputSerializer(data=request.data or {})
        serializer.is_valid(raise_exception=True)
        services.purchase_order_cancel(
            purchase_order=purchase_order, reason=serializer.validated_data["reason"], user=request.user
        )
        return _po_response(number)


class PurchaseOrderReceiveApi(StaffApi, APIView):
    required_permissions = {"POST": ["suppliers.receive_purchase_order"]}

    @extend_schema(
        summary="Receive units (partial receipts allowed; over-receipt refused with 422 over_receipt)",
        request=ReceiveInputSerializer,
        responses=PurchaseOrderDetailOutputSerializer,
    )
    def post(self, request, number: str):
        purchase_order = _po_or_404(number)
        serializer = ReceiveInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        receipt = services.purchase_order_receive(
            purchase_order=purchase_order,
            lines=[
                services.ReceiptLineRequest(**{**line, "lots": lots_from_input(line.get("lots"))})
                for line in serializer.validated_data["lines"]
            ],
            user=request.user,
        )
        response = _po_response(number)
        response.data["receipt"] = receipt.pk
        return response


class ShortageListApi(StaffApi, generics.ListAPIView):
    """Paginated like every other list (the rows are computed in one pass, then paged)."""

    serializer_class = ShortageOutputSerializer
    filter_backends = [UpdatedSinceFilter]
    updated_since_field = None  # computed on every call
    extra_problem_statuses = {"get": [422]}  # unknown_warehouse: ?warehouse= names no warehouse

    def get_queryset(self):
        query = WarehouseQuerySerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        return selectors.shortages(warehouse=query.validated_data.get("warehouse"))

    @extend_schema(
        summary="Products with waiting backorders: demand, stock, incoming, uncovered, a transfer, what to order",
        parameters=[WarehouseQuerySerializer],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class PlanningApi(StaffApi, generics.ListAPIView):
    """Paginated like every other list, riskiest first (the plan is computed in one pass, then paged)."""

    serializer_class = PlanningRowOutputSerializer
    filter_backends = [UpdatedSinceFilter]
    updated_since_field = None  # computed on every call
    extra_problem_statuses = {"get": [422]}  # unknown_warehouse: ?warehouse= names no warehouse

    def get_queryset(self):
        query = PlanningQuerySerializer(data=self.request.query_params)  # page and page_size are the paginator's
        query.is_valid(raise_exception=True)
        data = query.validated_data
        return replenishment_plan(
            service_level=data["service_level"],
            window_days=data["window_days"],
            skus=data.get("sku"),
            reorder_now_only=data.get("reorder_now", False),
            warehouse=data.get("warehouse"),
        )

    @extend_schema(
        summary="Replenishment plan: forecast, safety stock, reorder point, stockout risk per product (riskiest first)",
        parameters=[PlanningQuerySerializer],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class PlanningBacktestApi(StaffApi, generics.ListAPIView):
    """Forecast quality per product: a rolling-origin backtest of the moving average and the seasonal method against
    the naive and seasonal-naive baselines (suppliers.forecast). Only the page shown is computed."""

    serializer_class = BacktestRowOutputSerializer
    filter_backends: list = []

    def get_queryset(self):
        query = BacktestQuerySerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        return BacktestPage(skus=data.get("sku"), window=data["window"], horizon=data["horizon"], folds=data["folds"])

    @extend_schema(
        summary="Forecast backtest per product: WAPE, bias and skill of each method (rolling origin)",
        parameters=[BacktestQuerySerializer],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)
