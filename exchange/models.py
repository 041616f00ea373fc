"""Import jobs, and the sources of signed inbound events with the events they sent (docs/import.md)."""

from django.conf import settings
from django.db import models
from django.db.models.functions import Now


class ImportJob(models.Model):
    """One uploaded file being (or having been) checked and written. The file lives in the row, so any worker can
    run the job; the per-row errors are kept (the first ``ERRORS_KEPT``) for the API and the dashboard."""

    ERRORS_KEPT = 1000

    class Kind(models.TextChoices):
        PRODUCTS = "products", "Products"
        SUPPLIERS = "suppliers", "Suppliers"
        SUPPLIER_PRODUCTS = "supplier_products", "Supplier products"
        STOCK_COUNTS = "stock_counts", "Stock counts"
        PURCHASE_ORDERS = "purchase_orders", "Purchase orders"
        CUSTOMERS = "customers", "Customers with terms"
        OPEN_ORDERS = "open_orders", "Open orders"

    class Format(models.TextChoices):
        CSV = "csv", "CSV"
        XLSX = "xlsx", "Excel (XLSX)"
        JSONL = "jsonl", "JSON lines"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"  # everything written (or, dry run: everything would be)
        PARTIAL = "partial", "Partly written"  # partial=true: good rows written, the refused ones reported
        REFUSED = "refused", "Refused, nothing written"  # all-or-nothing and at least one refused row
        FAILED = "failed", "Failed"  # the file could not be read, or an unexpected error (nothing written)

    FINISHED = (Status.SUCCEEDED, Status.PARTIAL, Status.REFUSED, Status.FAILED)

    class Phase(models.TextChoices):
        WAITING = "waiting", "Waiting for a worker"
        READING = "reading", "Reading the file"
        CHECKING = "checking", "Checking rows"
        WRITING = "writing", "Writing"
        DONE = "done", "Done"

    kind = models.CharField(max_length=32, choices=Kind.choices)
    file_format = models.CharField(max_length=8, choices=Format.choices)
    filename = models.CharField(max_length=200, blank=True)
    content = models.BinaryField()
    dry_run = models.BooleanField(default=False)
    partial = models.BooleanField(default=False)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    phase = models.CharField(max_length=16, choices=Phase.choices, default=Phase.WAITING)
    rows_total = models.PositiveIntegerField(default=0)
    rows_done = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    refused = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True)  # [{"row", "column", "code", "message"}], the first kept
    message = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True, db_default=Now())

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Import {self.pk} ({self.kind}, {self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED


class InboundSource(models.Model):
    """A supplier or ERP that sends signed events to ``POST /api/v1/inbound/{code}/``. The secret signs them
    (HMAC-SHA256 over ``timestamp + "." + body``); a source tied to a supplier reaches only that supplier's
    purchase orders."""

    code = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=200)
    secret = models.CharField(max_length=128)
    supplier = models.ForeignKey(
        "suppliers.Supplier", null=True, blank=True, on_delete=models.PROTECT, related_name="inbound_sources"
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_default=Now())

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code


class InboundEvent(models.Model):
    """Each event processed, once: the (source, event id) pair is unique, so a replay changes nothing and gets the
    first answer again. A refused event is not kept: the sender may correct it and send it again with the same id."""

    source = models.ForeignKey(InboundSource, on_delete=models.PROTECT, related_name="events")
    event_id = models.CharField(max_length=100)
    event_type = models.CharField(max_length=50)
    payload = models.JSONField()
    result = models.JSONField(default=dict, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_default=Now())

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["source", "event_id"], name="inboundevent_unique_event")]

    def __str__(self) -> str:
        return f"{self.source_id}:{self.event_id} {self.event_type}"
