from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Now


class Product(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        DISCONTINUED = "discontinued", "Discontinued"

    class Tracking(models.TextChoices):
        NONE = "none", "None"
        LOT = "lot", "Lot (and expiry)"

    sku = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    unit_price = models.DecimalField(max_digits=12, decimal_places=2, validators=[MinValueValidator(Decimal("0"))])
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    backorderable = models.BooleanField(default=True)
    # Lot-tracked: every unit belongs to a lot (docs/lots.md); db_default: raw bulk inserts (imports, demo data).
    tracking = models.CharField(max_length=8, choices=Tracking.choices, default=Tracking.NONE, db_default="none")
    # What must remain of a lot's shelf life on the day it ships (0: anything not expired).
    min_shelf_life_days = models.PositiveIntegerField(default=0, db_default=0, blank=True)
    # Same function, possibly another brand or size: offered while this product is backordered.
    substitutes = models.ManyToManyField("self", symmetrical=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["sku"]
        constraints = [
            models.CheckConstraint(condition=Q(unit_price__gte=0), name="product_price_non_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.sku} — {self.name}"

    @property
    def is_lot_tracked(self) -> bool:
        return self.tracking == self.Tracking.LOT

    @property
    def can_backorder(self) -> bool:
        """Only an active, backorderable product may wait for stock; anything else is out of stock."""
        return self.status == self.Status.ACTIVE and self.backorderable


class Warehouse(models.Model):
    code = models.CharField(max_length=32, unique=True)
    name = models.CharField(max_length=200)
    # Inactive: its stock is neither available nor ETA supply (inventory.routing); it is still on hand.
    is_active = models.BooleanField(default=True)
    # Routing order (inventory.routing): a line is served from the warehouse with the lowest number that can fill
    # it whole, else from the warehouses in this order. Ties: the warehouse created first.
    priority = models.PositiveIntegerField(
        default=100, db_default=100, help_text="Lower is served first (routing); ties go to the older warehouse."
    )
    # Set on every change, also by set-based SQL (a trigger on PostgreSQL): what `?updated_since=` filters on.
    updated_at = models.DateTimeField(auto_now=True, db_default=Now())

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code


class StockItemQuerySet(models.QuerySet):
    def sellable(self):
        """Stock that may be allocated or promised (``inventory.routing``): in an active warehouse."""
        return self.filter(warehouse__is_active=True)


class StockItem(models.Model):
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="stock_items")
    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="stock_items")
    # 64-bit: a 32-bit counter would overflow after ~2,000 adjustments of the largest allowed size.
    on_hand = models.BigIntegerField(default=0)
    allocated = models.BigIntegerField(default=0)
    # Set on every change, also by set-based SQL (a trigger on PostgreSQL): what `?updated_since=` filters on.
    updated_at = models.DateTimeField(auto_now=True, db_default=Now())

    objects = StockItemQuerySet.as_manager()

    class Meta:
        ordering = ["product_id", "warehouse_id"]
        permissions = [("adjust_stock", "Can adjust stock (writes a ledger movement)")]
        constraints = [
            models.UniqueConstraint(fields=["product", "warehouse"], name="stockitem_unique_product_warehouse"),
            models.CheckConstraint(condition=Q(on_hand__gte=0), name="stockitem_on_hand_non_negative"),
            models.CheckConstraint(condition=Q(allocated__gte=0), name="stockitem_allocated_non_negative"),
            models.CheckConstraint(condition=Q(allocated__lte=F("on_hand")), name="stockitem_allocated_lte_on_hand"),
        ]

    def __str__(self) -> str:
        return f"{self.product_id}@{self.warehouse_id}"

    @property
    def available(self) -> int:
        return self.on_hand - self.allocated


class Lot(models.Model):
    """Units of a lot-tracked product received under one lot number into one stock item (docs/lots.md).

    ``on_hand`` and ``allocated`` are the lot's share of its stock item's counters (the stock item's are the sums of
    its lots'); ``quarantined`` units (expired, short-dated or on hold) have left ``on_hand`` through the ledger, so
    they are neither available nor ETA supply.
    """

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        QUARANTINED = "quarantined", "Quarantined (expired or short-dated)"
        ON_HOLD = "on_hold", "On hold (recall)"

    stock_item = models.ForeignKey(StockItem, on_delete=models.PROTECT, related_name="lots")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="lots")
    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="lots")
    number = models.CharField(max_length=64)
    expiry_date = models.DateField(null=True, blank=True)  # None: does not expire
    quantity_received = models.BigIntegerField(default=0)
    on_hand = models.BigIntegerField(default=0)
    allocated = models.BigIntegerField(default=0)
    quarantined = models.BigIntegerField(default=0)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    hold_reason = models.CharField(max_length=200, blank=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Set on every change, also by set-based SQL (a trigger on PostgreSQL): what `?updated_since=` filters on.
    updated_at = models.DateTimeField(auto_now=True, db_default=Now())

    class Meta:
        ordering = ["product_id", "warehouse_id", "expiry_date", "id"]
        permissions = [("hold_lot", "Can put a lot on hold (recall) and release it")]
        constraints = [
            models.UniqueConstraint(fields=["product", "warehouse", "number"], name="lot_unique_number"),
            models.CheckConstraint(condition=Q(quantity_received__gte=0), name="lot_received_non_negative"),
            models.CheckConstraint(condition=Q(on_hand__gte=0), name="lot_on_hand_non_negative"),
            models.CheckConstraint(condition=Q(allocated__gte=0), name="lot_allocated_non_negative"),
            models.CheckConstraint(condition=Q(allocated__lte=F("on_hand")), name="lot_allocated_lte_on_hand"),
            models.CheckConstraint(condition=Q(quarantined__gte=0), name="lot_quarantined_non_negative"),
            models.CheckConstraint(condition=~Q(number=""), name="lot_number_not_empty"),
        ]
        indexes = [models.Index(fields=["stock_item", "expiry_date"], name="lot_stock_item_expiry_idx")]

    def __str__(self) -> str:
        return f"{self.number} ({self.product_id}@{self.warehouse_id})"

    @property
    def available(self) -> int:
        return self.on_hand - self.allocated


class StockMovement(models.Model):
    """Append-only ledger: on_hand of a stock item is always the sum of its movements (and of a lot, the sum of the
    movements naming it)."""

    class Kind(models.TextChoices):
        RECEIPT = "receipt", "Receipt"
        SHIPMENT = "shipment", "Shipment"
        ADJUSTMENT = "adjustment", "Adjustment"
        TRANSFER_OUT = "transfer_out", "Transfer out"
        TRANSFER_IN = "transfer_in", "Transfer in"
        QUARANTINE = "quarantine", "Quarantine (−) or release (+) of a lot"

    stock_item = models.ForeignKey(StockItem, on_delete=models.PROTECT, related_name="movements")
    # The lot moved, for a lot-tracked product (every movement of one names its lot).
    lot = models.ForeignKey(Lot, null=True, blank=True, on_delete=models.PROTECT, related_name="movements")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    quantity = models.IntegerField()  # signed: + into stock, - out of stock
    reason = models.CharField(max_length=200, blank=True)
    reference = models.CharField(max_length=100, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor = models.CharField(max_length=100, blank=True)  # "system", "channel:web", a username…
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=~Q(quantity=0), name="stockmovement_quantity_non_zero"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.quantity:+d} on {self.stock_item_id}"


class Transfer(models.Model):
    """Units moved from one warehouse to another: draft → in transit (shipped: out of the source, by the ledger) →
    received (into the destination, by the ledger), or cancelled. ``inventory.transfers`` holds the rules."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        IN_TRANSIT = "in_transit", "In transit"
        RECEIVED = "received", "Received"
        CANCELLED = "cancelled", "Cancelled"

    number = models.CharField(max_length=32, unique=True)
    source = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="transfers_out")
    destination = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="transfers_in")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    # When the units are expected at the destination: the date ETAs use while they are in transit.
    expected_date = models.DateField()
    note = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    shipped_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True, db_default=Now())

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [
            ("ship_transfer", "Can ship a transfer (units leave the source warehouse)"),
            ("receive_transfer", "Can receive a transfer (units enter the destination warehouse)"),
            ("cancel_transfer", "Can cancel a transfer"),
        ]
        constraints = [
            models.CheckConstraint(condition=~Q(source=F("destination")), name="transfer_between_two_warehouses"),
        ]
        indexes = [models.Index(fields=["status", "expected_date"], name="transfer_status_expected_idx")]

    def __str__(self) -> str:
        return self.number


class TransferLine(models.Model):
    transfer = models.ForeignKey(Transfer, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="transfer_lines")
    quantity = models.PositiveIntegerField()
    # A lot-tracked product's line names its lots: [{"number", "quantity", "expiry_date"}] (the expiry is the source
    # lot's, recorded when the transfer ships; the destination lot is created with it). Empty for untracked products.
    lots = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["transfer_id", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="transferline_quantity_positive"),
            models.UniqueConstraint(fields=["transfer", "product"], name="transferline_unique_product"),
        ]

    def __str__(self) -> str:
        return f"{self.transfer_id}: {self.product_id} × {self.quantity}"
