from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Now, Upper

PRIORITY_CHOICES = [("low", "Low"), ("normal", "Normal"), ("high", "High"), ("critical", "Critical")]


class Customer(models.Model):
    class Tier(models.TextChoices):
        STANDARD = "standard", "Standard"
        SILVER = "silver", "Silver"
        GOLD = "gold", "Gold"
        PLATINUM = "platinum", "Platinum"

    # Customers belong to the sales channel that sent them: the same external id from two channels is two customers,
    # and a channel reaches only its own. Orders placed by staff without a channel have channel NULL.
    channel = models.ForeignKey(
        "SalesChannel", null=True, blank=True, on_delete=models.PROTECT, related_name="customers"
    )
    external_id = models.CharField(max_length=100)
    email = models.EmailField(db_index=True)
    name = models.CharField(max_length=200)
    tier = models.CharField(max_length=16, choices=Tier.choices, default=Tier.STANDARD)
    lifetime_value = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0"))
    # Off: a line of this customer's orders is served whole from one warehouse or waits (inventory.routing). Staff's.
    allow_split = models.BooleanField(
        default=True, db_default=True, help_text="Off: each order line ships whole from one warehouse, or waits."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # Set on every change, also by set-based SQL (a trigger on PostgreSQL): what `?updated_since=` filters on.
    updated_at = models.DateTimeField(auto_now=True, db_default=Now())

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(lifetime_value__gte=0), name="customer_ltv_non_negative"),
            models.UniqueConstraint(fields=["channel", "external_id"], name="customer_unique_per_channel"),
            models.UniqueConstraint(
                fields=["external_id"], condition=Q(channel__isnull=True), name="customer_unique_without_channel"
            ),
        ]
        indexes = [
            # The lists' "customer" filters match the e-mail case-insensitively (UPPER(email) = UPPER(value)): found
            # by index, and estimated as one customer, so PostgreSQL does not walk every backorder instead.
            models.Index(Upper("email"), name="customer_email_upper_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"


class SalesChannel(models.Model):
    """A storefront or B2B portal. Owns API keys and (optionally) webhook endpoints (notifications.WebhookEndpoint)."""

    class Kind(models.TextChoices):
        STOREFRONT = "storefront", "Storefront"
        B2B = "b2b", "B2B portal"

    code = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.STOREFRONT)
    is_active = models.BooleanField(default=True)
    # The highest priority this channel may ask for when it places an order (staff decide anything above it).
    max_priority = models.CharField(max_length=10, default="normal", choices=PRIORITY_CHOICES)
    # The warehouses this channel may ship from (inventory.routing); none listed: every active warehouse.
    warehouses = models.ManyToManyField(
        "inventory.Warehouse",
        blank=True,
        related_name="sales_channels",
        help_text="Ships only from these warehouses; leave empty for every active warehouse.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code


class CustomerTerms(models.Model):
    """What a customer agreed to about waiting: one row per customer, or the default of a sales channel.

    A customer's own row replaces the channel default as a whole (no field-by-field merge); without either, nothing
    bounds the wait (today's behaviour). Blank day counts mean "no limit".
    """

    customer = models.OneToOneField(Customer, null=True, blank=True, on_delete=models.CASCADE, related_name="terms")
    channel = models.ForeignKey(
        "SalesChannel", null=True, blank=True, on_delete=models.CASCADE, related_name="default_terms"
    )
    max_wait_days = models.PositiveIntegerField(
        null=True, blank=True, help_text="A line whose expected date is further out than this is at risk / refused."
    )
    auto_cancel_after_days = models.PositiveIntegerField(
        null=True, blank=True, help_text="Units still waiting this many days after placement are cancelled."
    )
    sla_days = models.PositiveIntegerField(
        null=True, blank=True, help_text="A backordered line must ship within this many days of placement."
    )
    allow_partial = models.BooleanField(default=True, help_text="Off: orders ship complete.")
    accepts_substitutes = models.BooleanField(default=True, help_text="Off: no substitutes are offered.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "customer terms"
        ordering = ["id"]
        constraints = [
            # Either a customer's terms or a channel's default, never both nor neither.
            models.CheckConstraint(
                condition=Q(customer__isnull=False, channel__isnull=True)
                | Q(customer__isnull=True, channel__isnull=False),
                name="customerterms_customer_xor_channel",
            ),
            models.UniqueConstraint(
                fields=["channel"], condition=Q(customer__isnull=True), name="customerterms_one_default_per_channel"
            ),
        ]

    def __str__(self) -> str:
        return f"terms of {self.customer_id and f'customer {self.customer_id}' or f'channel {self.channel_id}'}"


class ApiKey(models.Model):
    channel = models.ForeignKey(SalesChannel, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(max_length=16, unique=True)
    hashed_key = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.channel.code}:{self.prefix}…"


class Order(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "Open"  # placed, everything allocated, waiting to ship
        BACKORDERED = "backordered", "Backordered"  # waiting for stock on at least one line
        PARTIALLY_SHIPPED = "partially_shipped", "Partially shipped"
        SHIPPED = "shipped", "Shipped"
        CANCELLED = "cancelled", "Cancelled"

    class ShipPolicy(models.TextChoices):
        PARTIAL = "partial", "Ship what is available now"
        COMPLETE = "complete", "Ship complete"

    class Priority(models.TextChoices):
        LOW = "low", "Low"
        NORMAL = "normal", "Normal"
        HIGH = "high", "High"
        CRITICAL = "critical", "Critical"

    number = models.CharField(max_length=32)  # unique: see Meta (a plain unique index, no LIKE twin)
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="orders")
    channel = models.ForeignKey(SalesChannel, on_delete=models.PROTECT, related_name="orders", null=True, blank=True)
    placed_at = models.DateTimeField()  # indexed by order_placed_id_idx
    # Not indexed: the allocation engine flips the status of thousands of orders at once, and with no index
    # on it those updates are HOT (no index entries written). Lists filter it alongside placed_at.
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.OPEN)
    ship_policy = models.CharField(max_length=10, choices=ShipPolicy.choices, default=ShipPolicy.PARTIAL)
    # False: each line is served whole from one warehouse or waits (inventory.routing). Set at placement: false when
    # the customer's allow_split is off or the request asked for it (a checkout choice, like ship_policy).
    allow_split = models.BooleanField(default=True, db_default=True)
    priority = models.CharField(max_length=10, choices=Priority.choices, default=Priority.NORMAL)
    requested_date = models.DateField(null=True, blank=True)
    currency = models.CharField(max_length=3, default="EUR")
    total = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0"))
    # "<scope>:<key>" where scope is the channel or staff user that sent the Idempotency-Key header.
    idempotency_key = models.CharField(max_length=300, null=True, blank=True)  # unique: see Meta
    request_fingerprint = models.CharField(max_length=64, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    # The order's number in the system it came from (an ERP, a go-live import): the natural key of imports.
    external_reference = models.CharField(max_length=100, blank=True, default="", db_default="")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    # Set on every change, also by set-based SQL (a trigger on PostgreSQL): what `?updated_since=` filters on.
    updated_at = models.DateTimeField(auto_now=True, db_default=Now())

    class Meta:
        ordering = ["-placed_at", "-id"]
        permissions = [
            ("ship_order", "Can ship what is allocated on an order"),
            ("cancel_order", "Can cancel an order or some of its lines"),
        ]
        # Few indexes on purpose: every order insert writes each one, and status flips stay HOT updates.
        constraints = [
            models.CheckConstraint(condition=Q(total__gte=0), name="order_total_non_negative"),
            models.UniqueConstraint(fields=["number"], name="order_number_unique"),
            models.UniqueConstraint(fields=["idempotency_key"], name="order_idempotency_key_unique"),
            models.UniqueConstraint(
                fields=["channel", "external_reference"],
                condition=~Q(external_reference=""),
                name="order_external_reference_unique",
            ),
            models.UniqueConstraint(
                fields=["external_reference"],
                condition=~Q(external_reference="") & Q(channel__isnull=True),
                name="order_external_reference_unique_no_channel",
            ),
        ]
        indexes = [
            # Lists and the dashboard's period bounds (the id range is read from the index alone).
            models.Index(fields=["placed_at"], include=["id"], name="order_placed_id_idx"),
            # Orders entered by staff only (most come from storefronts with no user).
            models.Index(fields=["created_by"], name="order_created_by_idx", condition=Q(created_by__isnull=False)),
            # The urgent few staff look for (the order list's ?priority=critical / high / low, newest first, and its
            # count), read from this index instead of a scan of every order. Partial: a "normal" order — nearly all,
            # every storefront order unless the channel may set a priority — writes no entry; and priority is not a
            # column status flips touch, so they stay HOT updates.
            models.Index(
                fields=["priority", "placed_at", "id"], name="order_priority_rare_idx", condition=~Q(priority="normal")
            ),
        ]

    def __str__(self) -> str:
        return self.number


class OrderLine(models.Model):
    # No index of its own: the unique (order, product) constraint's index serves lookups by order.
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines", db_index=False)
    product = models.ForeignKey("inventory.Product", on_delete=models.PROTECT, related_name="order_lines")
    quantity = models.PositiveIntegerField()
    unit_price = models.DecimalField(max_digits=12, decimal_places=2)
    quantity_allocated = models.PositiveIntegerField(default=0)
    quantity_backordered = models.PositiveIntegerField(default=0)  # outstanding: waiting for stock
    quantity_shipped = models.PositiveIntegerField(default=0)
    quantity_cancelled = models.PositiveIntegerField(default=0)
    # Accepted although its expected date is after the requested date (or the customer's longest wait).
    at_risk = models.BooleanField(default=False, db_default=False)  # db_default: raw bulk inserts (demo data)

    class Meta:
        ordering = ["order_id", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="orderline_quantity_positive"),
            models.CheckConstraint(
                condition=Q(
                    quantity=F("quantity_allocated")
                    + F("quantity_backordered")
                    + F("quantity_shipped")
                    + F("quantity_cancelled")
                ),
                name="orderline_quantities_add_up",
            ),
            models.UniqueConstraint(fields=["order", "product"], name="orderline_unique_product_per_order"),
        ]

    def __str__(self) -> str:
        return f"{self.order_id}/{self.product_id} × {self.quantity}"

    @property
    def quantity_open(self) -> int:
        """Units not yet shipped or cancelled."""
        return self.quantity - self.quantity_shipped - self.quantity_cancelled


class Allocation(models.Model):
    """Stock reserved for an order line from one stock item (removed when shipped or released)."""

    # No index of its own: the unique (order_line, stock_item) constraint's index serves lookups by line.
    order_line = models.ForeignKey(OrderLine, on_delete=models.PROTECT, related_name="allocations", db_index=False)
    stock_item = models.ForeignKey("inventory.StockItem", on_delete=models.PROTECT, related_name="allocations")
    quantity = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="allocation_quantity_positive"),
            models.UniqueConstraint(fields=["order_line", "stock_item"], name="allocation_unique_line_stock_item"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} of {self.stock_item_id} → line {self.order_line_id}"


class LotAllocation(models.Model):
    """Which lot's units an allocation of a lot-tracked product holds (the allocation's breakdown by lot: the sum over
    a line's lots in a stock item is that line's allocation of the stock item)."""

    order_line = models.ForeignKey(OrderLine, on_delete=models.PROTECT, related_name="lot_allocations", db_index=False)
    lot = models.ForeignKey("inventory.Lot", on_delete=models.PROTECT, related_name="allocations")
    quantity = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="lotallocation_quantity_positive"),
            models.UniqueConstraint(fields=["order_line", "lot"], name="lotallocation_unique_line_lot"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} of lot {self.lot_id} → line {self.order_line_id}"


class Shipment(models.Model):
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="shipments")
    shipped_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    tracking_reference = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["-shipped_at", "-id"]

    def __str__(self) -> str:
        return f"Shipment {self.pk} of {self.order_id}"


class ShipmentLine(models.Model):
    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="lines")
    order_line = models.ForeignKey(OrderLine, on_delete=models.PROTECT, related_name="shipment_lines")
    stock_item = models.ForeignKey("inventory.StockItem", on_delete=models.PROTECT, related_name="+")
    # The lot shipped, for a lot-tracked product (one shipment line per lot): the recall list reads these.
    lot = models.ForeignKey(
        "inventory.Lot", null=True, blank=True, on_delete=models.PROTECT, related_name="shipment_lines"
    )
    quantity = models.PositiveIntegerField()

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(quantity__gt=0), name="shipmentline_quantity_positive")]

    def __str__(self) -> str:
        return f"{self.quantity} × line {self.order_line_id}"
