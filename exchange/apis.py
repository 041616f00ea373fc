"""API v1 views of exchange: import jobs, templates, exports (staff), and signed inbound events (a source's HMAC)."""

from __future__ import annotations

import json
from datetime import UTC

from django.http import HttpResponse, StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, parsers, status
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import IsStaff, JSONParser
from core.errors import NotFoundError
from core.filters import UpdatedSinceFilter
from core.permissions import missing_permissions, permission_denied_message

from . import formats
from .exports import EXPORT_KINDS
from .imports import import_job_create, import_job_get
from .inbound import inbound_event_process, inbound_source_verify
from .kinds import KINDS
from .models import ImportJob
from .serializers import (
    ImportJobOutputSerializer,
    ImportJsonInputSerializer,
    ImportUploadInputSerializer,
    InboundEventInputSerializer,
    InboundEventOutputSerializer,
    TemplateQuerySerializer,
    format_for,
)

CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "jsonl": "application/x-ndjson",
}
FILE_RESPONSES = {
    (200, "text/csv"): OpenApiResponse(OpenApiTypes.BINARY, description="CSV (UTF-8 with a byte-order mark)."),
    (200, CONTENT_TYPES["xlsx"]): OpenApiResponse(OpenApiTypes.BINARY, description="An Excel workbook."),
    (200, "application/x-ndjson"): OpenApiResponse(OpenApiTypes.BINARY, description="JSON lines."),
}


class IgnoreFormatNegotiation(DefaultContentNegotiation):
    """``?format=csv|xlsx|jsonl`` names the file's format here, not DRF's renderer (errors stay problem+json)."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return (renderers[0], renderers[0].media_type)


def _may_import(user, kind: str) -> None:
    from rest_framework.exceptions import PermissionDenied

    missing = missing_permissions(user, ["exchange.add_importjob", *KINDS[kind].permissions])
    if missing:
        raise PermissionDenied(permission_denied_message(missing))


class ImportListCreateApi(generics.ListAPIView):
    permission_classes = [IsStaff]
    required_permissions = {"POST": ["exchange.add_importjob"]}
    parser_classes = [parsers.MultiPartParser, JSONParser]
    serializer_class = ImportJobOutputSerializer
    filter_backends = [UpdatedSinceFilter]

    def get_queryset(self):
        return ImportJob.objects.defer("content").order_by("-id")

    @extend_schema(summary="Import jobs, newest first (staff)")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        summary="Start an import (staff): a file of one kind, checked then written by a worker",
        request={"multipart/form-data": ImportUploadInputSerializer, "application/json": ImportJsonInputSerializer},
        responses={202: ImportJobOutputSerializer},
    )
    def post(self, request):
        if request.content_type.startswith("multipart/"):
            serializer = ImportUploadInputSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            data = serializer.validated_data
            upload = data["file"]
            file_format = format_for(upload.name or "", data.get("format"))
            raw, filename = upload.read(), upload.name or ""
        else:
            serializer = ImportJsonInputSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            data = serializer.validated_data
            file_format, raw, filename = data["format"], data["content"].encode(), data["filename"]
        _may_import(request.user, data["kind"])
        job = import_job_create(
            kind=data["kind"],
            content=raw,
            file_format=file_format,
            filename=filename,
            dry_run=data["dry_run"],
            partial=data["partial"],
            user=request.user,
        )
        job = import_job_get(job_id=job.pk)  # as the worker left it (at once when tasks run in-process)
        response = Response(ImportJobOutputSerializer(job).data, status=status.HTTP_202_ACCEPTED)
        response["Location"] = f"/api/v1/imports/{job.pk}/"
        return response


class ImportDetailApi(APIView):
    permission_classes = [IsStaff]

    @extend_schema(
        summary="An import job: progress, counts and the row errors (staff)", responses=ImportJobOutputSerializer
    )
    def get(self, request, pk: int):
        return Response(ImportJobOutputSerializer(import_job_get(job_id=pk)).data)


class ImportTemplateApi(APIView):
    permission_classes = [IsStaff]
    content_negotiation_class = IgnoreFormatNegotiation

    @extend_schema(
        summary="The template of an import kind: its header and one example row (staff)",
        parameters=[TemplateQuerySerializer],
        responses=FILE_RESPONSES,
    )
    def get(self, request, kind: str):
        spec = KINDS.get(kind)
        if spec is None:
            raise NotFoundError(f"No import kind {kind[:40]!r}; kinds: {', '.join(sorted(KINDS))}.")
        query = TemplateQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        file_format = query.validated_data["format"]
        content = formats.template_bytes([c.name for c in spec.columns], [c.example for c in spec.columns], file_format)
        response = HttpResponse(content, content_type=CONTENT_TYPES[file_format])
        response["Content-Disposition"] = f'attachment; filename="{kind}-template.{file_format}"'
        return response


class ExportApi(APIView):
    permission_classes = [IsStaff]
    content_negotiation_class = IgnoreFormatNegotiation

    @extend_schema(
        summary="Export a kind as CSV, XLSX or JSON lines, streamed (staff)",
        parameters=[
            OpenApiParameter("format", str, enum=list(CONTENT_TYPES), description="csv (default), xlsx or jsonl."),
            OpenApiParameter("updated_since", OpenApiTypes.DATETIME, description="Only rows changed since then."),
        ],
        responses=FILE_RESPONSES,
    )
    def get(self, request, kind: str):
        from rest_framework.exceptions import ValidationError

        from core.filters import UtcIsoDateTimeField

        spec = EXPORT_KINDS.get(kind)
        if spec is None:
            raise NotFoundError(f"No export kind {kind[:40]!r}; kinds: {', '.join(sorted(EXPORT_KINDS))}.")
        file_format = request.query_params.get("format", "csv")
        if file_format not in CONTENT_TYPES:
            raise ValidationError({"format": ["Use csv, xlsx or jsonl."]})
        since = None
        raw_since = request.query_params.get("updated_since")
        if raw_since is not None:
            try:
                since = UtcIsoDateTimeField().clean(raw_since)
            except Exception as exc:  # forms.ValidationError
                raise ValidationError({"updated_since": ["Enter a valid ISO 8601 date-time."]}) from exc
            if since is None:
                raise ValidationError({"updated_since": ["Enter a valid ISO 8601 date-time."]})
            if since.tzinfo is None:
                since = since.replace(tzinfo=UTC)
        rows = spec.rows(updated_since=since)
        writer = {"csv": formats.csv_chunks, "xlsx": formats.xlsx_chunks, "jsonl": formats.jsonl_chunks}[file_format]
        response = StreamingHttpResponse(writer(spec.header, rows), content_type=CONTENT_TYPES[file_format])
        stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
        response["Content-Disposition"] = f'attachment; filename="{kind}-{stamp}.{file_format}"'
        return response


class InboundEventApi(APIView):
    """No user or API key: the request is authenticated by its signature (the source's secret)."""

    authentication_classes: list = []
    permission_classes: list = []
    parser_classes = [JSONParser]

    @extend_schema(
        summary="Receive a signed event from a supplier or ERP (HMAC over timestamp and body)",
        request=InboundEventInputSerializer,
        responses={200: InboundEventOutputSerializer},
        parameters=[
            OpenApiParameter(
                "X-OMS-Timestamp",
                str,
                OpenApiParameter.HEADER,
                required=True,
                description="Unix seconds when the request was signed.",
            ),
            OpenApiParameter(
                "X-OMS-Signature",
                str,
                OpenApiParameter.HEADER,
                required=True,
                description="sha256=<hex HMAC-SHA256 of '<timestamp>.<body>' with the source's secret>.",
            ),
        ],
        auth=[],
    )
    def post(self, request, source: str):
        body = request.body  # the exact bytes signed (read before the parser)
        source_obj = inbound_source_verify(
            code=source,
            timestamp=request.headers.get("X-OMS-Timestamp"),
            signature=request.headers.get("X-OMS-Signature"),
            body=body,
        )
        serializer = InboundEventInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        event, duplicate = inbound_event_process(
            source=source_obj,
            event_id=data["id"],
            event_type=data["type"],
            data=data["data"],
            payload=json.loads(body or b"{}").get("data", {}),
        )
        event.duplicate = duplicate
        return Response(InboundEventOutputSerializer(event).data, status=status.HTTP_200_OK)
