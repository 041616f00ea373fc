"""API v1 serializers of exchange: imports, exports, inbound events."""

from __future__ import annotations

from rest_framework import serializers

from core.api import StrictSerializer
from core.errors import InvalidInput

from .models import ImportJob

FORMATS = ImportJob.Format.values
EXTENSIONS = {"csv": "csv", "txt": "csv", "xlsx": "xlsx", "jsonl": "jsonl", "ndjson": "jsonl", "json": "jsonl"}


def format_for(filename: str, given: str | None) -> str:
    if given:
        return given
    extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if extension not in EXTENSIONS:
        raise InvalidInput(
            "Say the format (csv, xlsx, jsonl): the file name does not.", details={"field": "format", "file": filename}
        )
    return EXTENSIONS[extension]


class FormBooleanField(serializers.BooleanField):
    """A boolean in a form: exactly ``true`` or ``false`` (not 0/1, yes/no: the schema says boolean)."""

    def to_internal_value(self, data):
        if isinstance(data, bool):
            return data
        if data in ("true", "false"):
            return data == "true"
        self.fail("invalid", input=data)


class ImportUploadInputSerializer(serializers.Serializer):
    """A file upload (multipart/form-data: every value is text, so booleans are "true"/"false"; other form fields
    are ignored, as a browser's form may send its own)."""

    kind = serializers.ChoiceField(choices=ImportJob.Kind.choices, help_text="What the file holds (docs/import.md).")
    file = serializers.FileField(help_text="CSV (UTF-8, ';' or ','), XLSX or JSON lines.")
    format = serializers.ChoiceField(choices=FORMATS, required=False, help_text="Default: from the file name.")
    dry_run = FormBooleanField(default=False, help_text="Check everything, write nothing (true or false).")
    partial = FormBooleanField(default=False, help_text="Write the good rows even if some are refused.")


class ImportJsonInputSerializer(StrictSerializer):
    """The file's text in a JSON body (CSV or JSON lines; an Excel workbook goes as a multipart upload)."""

    kind = serializers.ChoiceField(choices=ImportJob.Kind.choices, help_text="What the file holds (docs/import.md).")
    format = serializers.ChoiceField(choices=["csv", "jsonl"])
    filename = serializers.CharField(max_length=200, required=False, default="")
    content = serializers.CharField(trim_whitespace=False, help_text="The file's text (CSV or JSON lines).")
    dry_run = serializers.BooleanField(default=False)
    partial = serializers.BooleanField(default=False)


class RowErrorOutputSerializer(serializers.Serializer):
    row = serializers.IntegerField(help_text="Row in the file as a spreadsheet counts it (1: the header).")
    column = serializers.CharField(help_text="The column, or empty for the row as a whole.")
    code = serializers.CharField(help_text="A stable code (required, unknown_sku, duplicate_key, …).")
    message = serializers.CharField()


class ImportJobOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    format = serializers.CharField(source="file_format")
    filename = serializers.CharField()
    dry_run = serializers.BooleanField()
    partial = serializers.BooleanField()
    status = serializers.ChoiceField(choices=ImportJob.Status.choices)
    phase = serializers.ChoiceField(choices=ImportJob.Phase.choices)
    rows_total = serializers.IntegerField()
    rows_done = serializers.IntegerField(help_text="Rows (or, while writing, records) done in this phase.")
    created = serializers.IntegerField(help_text="Records created (dry run: that would be).")
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    refused = serializers.IntegerField(help_text="Rows refused.")
    message = serializers.CharField()
    errors = RowErrorOutputSerializer(many=True, help_text=f"The first {ImportJob.ERRORS_KEPT} row errors.")
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    updated_at = serializers.DateTimeField()


class ExportQuerySerializer(serializers.Serializer):
    format = serializers.ChoiceField(choices=FORMATS, default="csv")
    updated_since = serializers.DateTimeField(required=False, help_text="Only rows changed at or after this time.")


class TemplateQuerySerializer(serializers.Serializer):
    format = serializers.ChoiceField(choices=FORMATS, default="csv")


class InboundLineDateSerializer(StrictSerializer):
    sku = serializers.CharField(max_length=64)
    expected_date = serializers.DateField()


class InboundPurchaseOrderSerializer(StrictSerializer):
    number = serializers.CharField(max_length=32)
    expected_date = serializers.DateField(required=False)
    lines = InboundLineDateSerializer(many=True, required=False, max_length=500)
    reason = serializers.CharField(max_length=300, required=False, allow_blank=True)


class InboundNoticeLineSerializer(StrictSerializer):
    sku = serializers.CharField(max_length=64)
    quantity = serializers.IntegerField(min_value=1, max_value=1_000_000)


class InboundShipmentNoticeSerializer(StrictSerializer):
    number = serializers.CharField(max_length=32, help_text="The purchase order the units belong to.")
    arrival_date = serializers.DateField()
    reference = serializers.CharField(max_length=100, required=False, allow_blank=True)
    lines = InboundNoticeLineSerializer(many=True, min_length=1, max_length=500)


class InboundCountSerializer(StrictSerializer):
    sku = serializers.CharField(max_length=64)
    counted = serializers.IntegerField(min_value=0, max_value=1_000_000_000)


class InboundStockCountSerializer(StrictSerializer):
    warehouse = serializers.CharField(max_length=32)
    counts = InboundCountSerializer(many=True, min_length=1, max_length=10_000)


class InboundEventInputSerializer(StrictSerializer):
    id = serializers.CharField(max_length=100, help_text="The sender's event id: a replay of it changes nothing.")
    type = serializers.ChoiceField(
        choices=["purchase_order.confirmed", "purchase_order.date_changed", "shipment_notice", "stock.count"]
    )
    data = serializers.JSONField(help_text="The event's fields (docs/import.md, per type).")

    DATA = {
        "purchase_order.confirmed": InboundPurchaseOrderSerializer,
        "purchase_order.date_changed": InboundPurchaseOrderSerializer,
        "shipment_notice": InboundShipmentNoticeSerializer,
        "stock.count": InboundStockCountSerializer,
    }

    def validate(self, attrs):
        data = self.DATA[attrs["type"]](data=attrs["data"])
        if not data.is_valid():
            raise serializers.ValidationError({"data": data.errors})
        if attrs["type"] == "purchase_order.date_changed" and not (
            data.validated_data.get("expected_date") or data.validated_data.get("lines")
        ):
            raise serializers.ValidationError({"data": ["Give expected_date or lines with their dates."]})
        attrs["data"] = data.validated_data
        return attrs


class InboundEventOutputSerializer(serializers.Serializer):
    id = serializers.CharField(source="event_id")
    type = serializers.CharField(source="event_type")
    duplicate = serializers.BooleanField(help_text="A replay: nothing changed, this is the first answer again.")
    received_at = serializers.DateTimeField()
    result = serializers.JSONField()
