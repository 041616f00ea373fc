"""API v1 views of backorders: the filtered list and one backorder with its history."""

from __future__ import annotations

from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema
from rest_framework import generics
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import IsChannelOrStaff, request_channel
from core.errors import NotFoundError

from . import selectors
from .filters import BackorderFilter
from .serializers import BackorderDetailOutputSerializer, BackorderOutputSerializer


def _backorder_or_404(request, backorder_id):
    """The backorder if the caller may see it: staff see all, a channel only its own orders' backorders."""
    backorder = selectors.backorder_get(backorder_id=backorder_id, channel=request_channel(request))
    if backorder is None:
        raise NotFoundError(f"No backorder {str(backorder_id)[:20]!r}.")
    return backorder


class BackorderListApi(generics.ListAPIView):
    permission_classes = [IsChannelOrStaff]
    serializer_class = BackorderOutputSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = BackorderFilter

    def get_queryset(self):
        return selectors.backorder_list(channel=request_channel(self.request))

    @extend_schema(summary="List backorders, in allocation-queue order by default (a channel sees only its own)")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class BackorderDetailApi(APIView):
    permission_classes = [IsChannelOrStaff]

    @extend_schema(summary="One backorder with its event history", responses=BackorderDetailOutputSerializer)
    def get(self, request, backorder_id: int):
        return Response(BackorderDetailOutputSerializer(_backorder_or_404(request, backorder_id)).data)
