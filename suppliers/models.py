from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Now


class Supplier(models.Model):
    code = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=200)
    email = models.EmailField(blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Set on every change, also by set-based SQL (a trigger on PostgreSQL): what `?updated_since=` filters on.
    updated_at = models.DateTimeField(auto_now=True, db_default=Now())

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class SupplierProduct(models.Model):
    supplier = models.ForeignKey(Supplier, on_delete=models.CASCADE, related_name="products")
    product = models.ForeignKey("inventory.Product", on_delete=models.CASCADE, related_name="supplier_products")
    supplier_sku = models.CharField(max_length=64, blank=True)
    lead_time_days = models.PositiveIntegerField(default=14)
    min_order_quantity = models.PositiveIntegerField(default=1)
    pack_size = models.PositiveIntegerField(default=1)
    unit_cost = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0"))
    preferred = models.BooleanField(default=False)
    # Set on every change, also by set-based SQL (a trigger on PostgreSQL): what `?updated_since=` filters on.
    updated_at = models.DateTimeField(auto_now=True, db_default=Now())

    class Meta:
        ordering = ["product_id", "-preferred", "lead_time_days"]
        constraints = [
            models.UniqueConstraint(fields=["supplier", "product"], name="supplierproduct_unique"),
            models.UniqueConstraint(
                fields=["product"], condition=Q(preferred=True), name="supplierproduct_one_preferred"
            ),
            models.CheckConstraint(condition=Q(min_order_quantity__gte=1), name="supplierproduct_moq_positive"),
            models.CheckConstraint(condition=Q(pack_size__gte=1), name="supplierproduct_pack_positive"),
            models.CheckConstraint(condition=Q(unit_cost__gte=0), name="supplierproduct_cost_non_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.supplier_id}:{self.product_id}"


class PurchaseOrder(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        SENT = "sent", "Sent"
        PARTIALLY_RECEIVED = "partially_received", "Partially received"
        RECEIVED = "received", "Received"
        CANCELLED = "cancelled", "Cancelled"

    INCOMING = (Status.SENT, Status.PARTIALLY_RECEIVED)

    number = models.CharField(max_length=32, unique=True)
    supplier = models.ForeignKey(Supplier, on_delete=models.PROTECT, related_name="purchase_orders")
    warehouse = models.ForeignKey("inventory.Warehouse", on_delete=models.PROTECT, related_name="purchase_orders")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.DRAFT, db_index=True)
    order_date = models.DateField()
    expected_date = models.DateField()
    expedite = models.BooleanField(default=False)
    notes = models.TextField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)  # the supplier confirmed it (an inbound event)
    received_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Set on every change, also by set-based SQL (a trigger on PostgreSQL): what `?updated_since=` filters on.
    updated_at = models.DateTimeField(auto_now=True, db_default=Now())
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-order_date", "-id"]
        permissions = [("receive_purchase_order", "Can receive units against a purchase order")]

    def __str__(self) -> str:
        return self.number


class PurchaseOrderLine(models.Model):
    purchase_order = models.ForeignKey(PurchaseOrder, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey("inventory.Product", on_delete=models.PROTECT, related_name="purchase_order_lines")
    quantity_ordered = models.PositiveIntegerField()
    quantity_received = models.PositiveIntegerField(default=0)
    expected_date = models.DateField()
    original_expected_date = models.DateField()

    class Meta:
        ordering = ["purchase_order_id", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity_ordered__gt=0), name="poline_quantity_positive"),
            models.CheckConstraint(
                condition=Q(quantity_received__lte=F("quantity_ordered")), name="poline_not_over_received"
            ),
            models.UniqueConstraint(fields=["purchase_order", "product"], name="poline_unique_product"),
        ]
        indexes = [models.Index(fields=["product", "expected_date"], name="poline_product_expected_idx")]

    def __str__(self) -> str:
        return f"{self.purchase_order_id}/{self.product_id} × {self.quantity_ordered}"

    @property
    def quantity_outstanding(self) -> int:
        return self.quantity_ordered - self.quantity_received


class ExpectedDateRevision(models.Model):
    """History of expected-date changes of a PO line (feeds the supplier scorecard)."""

    line = models.ForeignKey(PurchaseOrderLine, on_delete=models.CASCADE, related_name="date_revisions")
    old_date = models.DateField()
    new_date = models.DateField()
    reason = models.CharField(max_length=500, blank=True)
    # What moving the date cost (air freight, an expedite fee), split over the revised lines by units still to come;
    # reported in the cost of backorders (docs/promises.md).
    expedite_cost = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(expedite_cost__gte=0), name="daterevision_expedite_cost_non_negative")
        ]

    def __str__(self) -> str:
        return f"{self.line_id}: {self.old_date} → {self.new_date}"


class Receipt(models.Model):
    purchase_order = models.ForeignKey(PurchaseOrder, on_delete=models.PROTECT, related_name="receipts")
    received_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-received_at", "-id"]

    def __str__(self) -> str:
        return f"Receipt {self.pk} of {self.purchase_order_id}"


class ReceiptLine(models.Model):
    receipt = models.ForeignKey(Receipt, on_delete=models.CASCADE, related_name="lines")
    purchase_order_line = models.ForeignKey(PurchaseOrderLine, on_delete=models.PROTECT, related_name="receipt_lines")
    quantity = models.PositiveIntegerField()

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(quantity__gt=0), name="receiptline_quantity_positive")]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.purchase_order_line_id}"


class ForecastChoice(models.Model):
    """The forecast method planning uses for a product: the one that backtested best (suppliers.forecast), with how
    good it was. Refreshed nightly (``forecast_backtests_refresh``); a product without one uses the moving average."""

    class Method(models.TextChoices):
        MOVING_AVERAGE = "moving_average", "Moving average"
        SEASONAL = "seasonal", "Seasonal (Holt-Winters, weekly + yearly)"

    product = models.OneToOneField("inventory.Product", on_delete=models.CASCADE, related_name="forecast_choice")
    method = models.CharField(max_length=20, choices=Method.choices)
    wape = models.FloatField(null=True, blank=True)
    bias = models.FloatField(null=True, blank=True)
    skill_vs_naive = models.FloatField(null=True, blank=True)
    skill_vs_seasonal_naive = models.FloatField(null=True, blank=True)
    # The method's average daily forecast over the next four weeks, as of computed_on (what planning uses).
    forecast_daily = models.FloatField(default=0)
    window_days = models.PositiveSmallIntegerField()
    horizon_days = models.PositiveSmallIntegerField()
    folds = models.PositiveSmallIntegerField()
    computed_on = models.DateField()

    def __str__(self) -> str:
        return f"{self.product_id}: {self.method} (WAPE {self.wape})"


class DailyDemand(models.Model):
    """Units ordered per product and day (the day the order was placed, in ``DemandRollup.time_zone``), summed over
    the order lines up to ``DemandRollup.line_id_upto``: what planning's forecast reads instead of every order line
    of its window (docs/performance.md, "Reads at volume"). Written only by ``suppliers.services.demand`` and by the
    triggers of migration 0006 (a rolled-up line whose quantity, product or order changes)."""

    product = models.ForeignKey("inventory.Product", on_delete=models.CASCADE, related_name="+", db_index=False)
    day = models.DateField()
    units = models.BigIntegerField()

    class Meta:
        constraints = [
            # A window of days is one index range, read from the index alone.
            models.UniqueConstraint(fields=["day", "product"], include=["units"], name="dailydemand_day_product"),
        ]

    def __str__(self) -> str:
        return f"{self.product_id} {self.day}: {self.units}"


class MonthlyDemand(models.Model):
    """Σ units and Σ units² of ``DailyDemand``'s days per product and calendar month (``month``: its first day), so
    that a long window sums a dozen months instead of 365 days per product. Kept by a PostgreSQL trigger on
    ``DailyDemand`` (migration 0007) that appends one row per product and month a statement changed, with what it
    added (rows of the same month add up; never updated in place, so concurrent writers never wait for each other
    here); ``demand_rollup_refresh`` folds a month's rows into one."""

    product = models.ForeignKey("inventory.Product", on_delete=models.CASCADE, related_name="+", db_index=False)
    month = models.DateField()
    units = models.BigIntegerField()
    squares = models.BigIntegerField()

    class Meta:
        indexes = [
            models.Index(fields=["month", "product"], include=["units", "squares"], name="monthlydemand_month_product")
        ]

    def __str__(self) -> str:
        return f"{self.product_id} {self.month:%Y-%m}: {self.units}"


class DemandRollup(models.Model):
    """The one row saying how far ``DailyDemand`` goes: every order line with an id up to ``line_id_upto`` is in
    it; later lines are read from the orders (the rollup is refreshed hourly: ``demand_rollup_refresh``)."""

    line_id_upto = models.BigIntegerField(default=0)
    time_zone = models.CharField(max_length=64)  # the days are this zone's; another zone rebuilds the rollup
    refreshed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(id=1), name="demandrollup_one_row")]

    def __str__(self) -> str:
        return f"order lines up to {self.line_id_upto} ({self.time_zone})"
