from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Now

NON_NEGATIVE = MinValueValidator(Decimal("0"))
PRIORITY_RANKS = {"low": 0, "normal": 1, "high": 2, "critical": 3}
# The queue order, the key business rule: priority class, then the policy's score (tier, customer value), then order
# placed time (oldest first), then id. Its SQL, Python-key and "ahead of" forms are derived in backorders.queue.
QUEUE_ORDER = ("-priority_rank", "-priority_score", "placed_at", "id")


class Backorder(models.Model):
    """The unfilled part of an order line, waiting for stock."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        PARTIALLY_ALLOCATED = "partially_allocated", "Partially allocated"
        ALLOCATED = "allocated", "Allocated"  # every waiting unit reserved; ready to ship
        FULFILLED = "fulfilled", "Fulfilled"  # shipped
        CANCELLED = "cancelled", "Cancelled"

    class Reason(models.TextChoices):
        STOCKOUT = "stockout", "Stockout"
        SUPPLIER_DELAY = "supplier_delay", "Supplier delay"
        QUALITY_HOLD = "quality_hold", "Quality hold"
        DEMAND_SPIKE = "demand_spike", "Demand spike"
        # Units reserved from a lot that expired, fell under the minimum shelf life or was recalled (docs/lots.md).
        LOT_EXPIRED = "lot_expired", "Lot expired or recalled"

    class EtaBasis(models.TextChoices):
        PURCHASE_ORDER_HISTORY = "purchase_order_history", "Incoming purchase order + the supplier's measured slips"
        PURCHASE_ORDER = "purchase_order", "Incoming purchase order"
        TRANSFER = "transfer", "Units in transit between warehouses"
        LEAD_TIME_HISTORY = "lead_time_history", "Supplier's measured lead time (estimate)"
        LEAD_TIME = "lead_time", "Supplier lead time (estimate)"
        NONE = "none", "No date yet"

    WAITING = (Status.OPEN, Status.PARTIALLY_ALLOCATED)
    WAITING_VALUES = (Status.OPEN.value, Status.PARTIALLY_ALLOCATED.value)  # the same, as plain strings (raw SQL)
    # The same as an SQL list, for raw statements: `status IN ('open', 'partially_allocated')`, the predicate of the
    # queue's partial indexes (written the same way, so the planner matches them).
    WAITING_SQL = "(" + ", ".join(map("'{}'".format, WAITING_VALUES)) + ")"
    QUEUE_ORDER = QUEUE_ORDER

    order_line = models.OneToOneField("orders.OrderLine", on_delete=models.PROTECT, related_name="backorder")
    # Denormalised from the order line for the allocation queue and the dashboard filters.
    order = models.ForeignKey("orders.Order", on_delete=models.PROTECT, related_name="backorders")
    # The order's sales channel, copied so that a channel's lists count and page its backorders from one index
    # instead of joining every order (docs/performance.md, "Reads at volume"). Always the order's: on PostgreSQL a
    # trigger sets it on insert and follows a change of the order's channel (migration 0015); the check_integrity
    # report and tests/backorders/test_channel_copy.py prove it.
    channel = models.ForeignKey(
        "orders.SalesChannel",
        null=True,
        blank=True,
        editable=False,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,  # backorder_channel_queue_idx leads with it
    )
    product = models.ForeignKey("inventory.Product", on_delete=models.PROTECT, related_name="backorders")
    quantity = models.PositiveIntegerField()  # units that went on backorder
    quantity_allocated = models.PositiveIntegerField(default=0)
    quantity_cancelled = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.OPEN)
    reason = models.CharField(max_length=20, choices=Reason.choices, default=Reason.STOCKOUT)
    priority = models.CharField(max_length=10, default="normal")
    priority_rank = models.PositiveSmallIntegerField(default=1)
    priority_score = models.DecimalField(max_digits=14, decimal_places=4, default=Decimal("0"))
    placed_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    # Set on every change, also by set-based SQL (a trigger on PostgreSQL): what `?updated_since=` filters on.
    updated_at = models.DateTimeField(auto_now=True, db_default=Now())
    allocated_at = models.DateTimeField(null=True, blank=True)
    fulfilled_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    # The customer-facing promise (docs/promises.md): the expected date adjusted by the supplier's measured behaviour
    # at the service level; with too little history, the expected date itself (eta_basis says which).
    eta = models.DateField(null=True, blank=True)
    eta_basis = models.CharField(max_length=30, choices=EtaBasis.choices, default=EtaBasis.NONE)
    eta_first = models.DateField(null=True, blank=True)  # the first date promised (on-time promise rate)
    # The supplier's word: the covering purchase-order line's expected date, or today + the quoted lead time.
    eta_expected = models.DateField(null=True, blank=True)
    # Share of similar past cases in which a date set this way held (None: not measured, a quoted date).
    eta_confidence = models.FloatField(null=True, blank=True)
    eta_updated_at = models.DateTimeField(null=True, blank=True)
    # Ship-by promised by the customer's terms (placed_at + sla_days); None when no SLA applies.
    sla_due_at = models.DateTimeField(null=True, blank=True)
    # Set once by the SLA sweep when sla_due_at passed while units were still waiting (never unset).
    sla_breached = models.BooleanField(default=False, db_default=False)
    # Not indexed: read only forwards (backorder → its PO line); leaving it out of every index lets an ETA
    # recompute's date updates be HOT (no index entries written).
    eta_purchase_order_line = models.ForeignKey(
        "suppliers.PurchaseOrderLine",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )

    class Meta:
        ordering = list(QUEUE_ORDER)
        permissions = [
            ("change_priority", "Can override the priority of a backorder"),
            ("reallocate", "Can move reserved units of lower-priority backorders to a backorder"),
            ("cancel_backorder", "Can cancel the waiting units of a backorder"),
            ("accept_substitute", "Can switch a backorder to an in-stock substitute"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="backorder_quantity_positive"),
            models.CheckConstraint(
                condition=Q(quantity__gte=F("quantity_allocated") + F("quantity_cancelled")),
                name="backorder_not_over_allocated",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=["open", "partially_allocated"])
                | Q(quantity__gt=F("quantity_allocated") + F("quantity_cancelled")),
                name="backorder_waiting_has_outstanding",
            ),
            models.CheckConstraint(
                condition=Q(priority_rank__lte=3) & Q(priority__in=list(PRIORITY_RANKS)),
                name="backorder_priority_valid",
            ),
        ]
        indexes = [
            # The allocation queue of one product, in allocation order, over waiting backorders only.
            models.Index(
                "product",
                F("priority_rank").desc(),
                F("priority_score").desc(),
                "placed_at",
                "id",
                name="backorder_queue_idx",
                condition=Q(status__in=["open", "partially_allocated"]),
            ),
            models.Index(fields=["status", "created_at"], name="backorder_status_created_idx"),
            models.Index(fields=["created_at"], name="backorder_created_idx"),
            # Every backorder in queue order (the lists' default order): a page, filtered or not, is read from the
            # index instead of sorting every matching row (docs/performance.md, "Reads at volume").
            models.Index(
                F("priority_rank").desc(),
                F("priority_score").desc(),
                "placed_at",
                "id",
                name="backorder_list_order_idx",
            ),
            # A channel's backorders in queue order (its API lists: the count reads the index alone, a page walks it).
            models.Index(
                "channel",
                F("priority_rank").desc(),
                F("priority_score").desc(),
                "placed_at",
                "id",
                name="backorder_channel_queue_idx",
            ),
            # ?reason= in queue order, for the reasons other than the common one (a stockout: its rows are found soon
            # enough walking backorder_list_order_idx). Rarer reasons sat at the end of that walk (80,000 entries
            # read for one page of quality holds); reason is set when the backorder is created, so updates of a
            # backorder rarely touch this index.
            models.Index(
                "reason",
                F("priority_rank").desc(),
                F("priority_score").desc(),
                "placed_at",
                "id",
                name="backorder_reason_queue_idx",
                condition=~Q(reason="stockout"),
            ),
            # Several reasons at once (?reason=a&reason=b), none of them a stockout: the same rows in queue order
            # alone, filtered by reason as the walk goes (backorder_reason_queue_idx serves one reason at a time).
            models.Index(
                F("priority_rank").desc(),
                F("priority_score").desc(),
                "placed_at",
                "id",
                name="backorder_rare_reason_idx",
                condition=~Q(reason="stockout"),
            ),
            # Units still waiting per product, read from the index alone (planning sums them for every product: a
            # scan of every backorder before). None of these columns changes when an ETA is recomputed, so those
            # updates stay HOT; the allocation changes quantity_allocated and mostly the status (in the queue index's
            # condition already).
            models.Index(
                fields=["product"],
                include=["quantity", "quantity_allocated", "quantity_cancelled"],
                name="backorder_waiting_units_idx",
                condition=Q(status__in=["open", "partially_allocated"]),
            ),
            # The lists' SLA filters and order (few rows carry a ship-by date; fewer are breached).
            models.Index(fields=["sla_due_at"], name="backorder_sla_due_idx", condition=Q(sla_due_at__isnull=False)),
            models.Index(fields=["sla_due_at"], name="backorder_sla_breached_idx", condition=Q(sla_breached=True)),
        ]

    def __str__(self) -> str:
        return f"BO-{self.pk}"

    @property
    def quantity_outstanding(self) -> int:
        return self.outstanding(self.quantity, self.quantity_allocated, self.quantity_cancelled)

    @staticmethod
    def outstanding(quantity: int, allocated: int, cancelled: int) -> int:
        """Units still owed: what ``quantity_outstanding`` says, for a row read as plain values too."""
        return quantity - allocated - cancelled

    @property
    def is_waiting(self) -> bool:
        return self.status in self.WAITING


class BackorderEvent(models.Model):
    class Kind(models.TextChoices):
        CREATED = "created", "Created"
        ALLOCATED = "allocated", "Allocated"
        PARTIALLY_ALLOCATED = "partially_allocated", "Partially allocated"
        DEALLOCATED = "deallocated", "Allocation moved away"
        PRIORITY_CHANGED = "priority_changed", "Priority changed"
        ETA_CHANGED = "eta_changed", "ETA changed"
        CANCELLED = "cancelled", "Cancelled"
        FULFILLED = "fulfilled", "Fulfilled"
        NOTE = "note", "Note"
        DATE_ACCEPTED = "date_accepted", "Later date accepted by the customer"
        SLA_BREACHED = "sla_breached", "SLA breached"

    # Enforced once per statement on PostgreSQL (core.references, migration 0019), not row by row by a declared
    # foreign key: an ETA rewrite records 100,000 events in a few statements.
    backorder = models.ForeignKey(Backorder, on_delete=models.CASCADE, related_name="events", db_constraint=False)
    kind = models.CharField(max_length=24, choices=Kind.choices)
    quantity = models.IntegerField(null=True, blank=True)
    message = models.CharField(max_length=500, blank=True)
    data = models.JSONField(default=dict, blank=True)
    actor = models.CharField(max_length=100, default="system")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            # Most events are the system's (no user): index only the staff ones, so bulk inserts skip it.
            models.Index(fields=["created_by"], name="event_created_by_idx", condition=Q(created_by__isnull=False)),
        ]

    def __str__(self) -> str:
        return f"{self.kind} on BO-{self.backorder_id}"


class AllocationPolicy(models.Model):
    """Weights of the allocation queue. Exactly one policy is active."""

    name = models.CharField(max_length=100, unique=True)
    is_active = models.BooleanField(default=False)
    # Weights and the cap are points added to a score: never negative (a negative weight would push a tier or a
    # valuable customer to the back of the queue, which no policy means).
    standard_weight = models.DecimalField(
        max_digits=10, decimal_places=2, default=Decimal("0"), validators=[NON_NEGATIVE]
    )
    silver_weight = models.DecimalField(
        max_digits=10, decimal_places=2, default=Decimal("10"), validators=[NON_NEGATIVE]
    )
    gold_weight = models.DecimalField(max_digits=10, decimal_places=2, default=Decimal("20"), validators=[NON_NEGATIVE])
    platinum_weight = models.DecimalField(
        max_digits=10, decimal_places=2, default=Decimal("30"), validators=[NON_NEGATIVE]
    )
    # Points per 1,000 of customer lifetime value, capped so one huge account cannot jump every tier.
    lifetime_value_weight = models.DecimalField(
        max_digits=10, decimal_places=4, default=Decimal("1"), validators=[NON_NEGATIVE]
    )
    lifetime_value_cap = models.DecimalField(
        max_digits=10, decimal_places=2, default=Decimal("9"), validators=[NON_NEGATIVE]
    )
    # A backorder that breaches its SLA is raised to at least this priority (blank: no boost).
    sla_breach_priority = models.CharField(
        max_length=10,
        blank=True,
        default="high",
        choices=[(p, p.title()) for p in PRIORITY_RANKS],
        help_text="Priority a backorder is raised to when its SLA is breached (blank: leave it).",
    )
    notes = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "allocation policies"
        constraints = [
            models.UniqueConstraint(
                fields=["is_active"], condition=Q(is_active=True), name="allocationpolicy_one_active"
            ),
            models.CheckConstraint(
                condition=Q(standard_weight__gte=0)
                & Q(silver_weight__gte=0)
                & Q(gold_weight__gte=0)
                & Q(platinum_weight__gte=0)
                & Q(lifetime_value_weight__gte=0)
                & Q(lifetime_value_cap__gte=0),
                name="allocationpolicy_weights_non_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name}{' (active)' if self.is_active else ''}"

    def tier_weight(self, tier: str) -> Decimal:
        return getattr(self, f"{tier}_weight", Decimal("0"))

    def score(self, *, tier: str, lifetime_value: Decimal) -> Decimal:
        ltv_points = min(self.lifetime_value_weight * (lifetime_value / Decimal(1000)), self.lifetime_value_cap)
        return (self.tier_weight(tier) + ltv_points).quantize(Decimal("0.0001"))


class AllocationRun(models.Model):
    """Bookkeeping of the allocation task per product: a message that keeps failing stops after N attempts."""

    product = models.OneToOneField("inventory.Product", on_delete=models.CASCADE, related_name="allocation_run")
    attempts = models.PositiveIntegerField(default=0)  # consecutive failed attempts (0 after a success)
    runs = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    units_allocated = models.PositiveIntegerField(default=0)  # by the last successful run

    def __str__(self) -> str:
        return f"allocation of {self.product_id}: {self.runs} run(s), {self.attempts} failed"


class WorkRequest(models.Model):
    """Work a product is owed (an allocation, an ETA recompute), recorded in the requester's transaction.

    The Celery message sent after commit is the fast path; this row is the durable one: a message lost with its
    worker (or its broker) is re-sent by ``backorders.tasks.pending_work_sweep`` (every few seconds, and when a
    worker starts). The task deletes the row when it is done, only if no request came in meanwhile (``version``
    unchanged). See docs/operations.md, "Crash recovery".
    """

    class Kind(models.TextChoices):
        ALLOCATE = "allocate", "Allocate free stock"
        ETA = "eta", "Recompute ETAs"

    kind = models.CharField(max_length=10, choices=Kind.choices)
    # No index of its own: the unique (product, kind) constraint serves lookups by product.
    product = models.ForeignKey("inventory.Product", on_delete=models.CASCADE, related_name="+", db_index=False)
    created_at = models.DateTimeField()  # the first request still pending (the backlog's age)
    requested_at = models.DateTimeField()  # the latest request
    version = models.PositiveBigIntegerField(default=1)  # +1 per request: compare-and-delete
    resent = models.PositiveIntegerField(default=0)  # messages re-sent by the sweep
    resent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["product", "kind"], name="workrequest_one_per_product_kind")]
        indexes = [models.Index(fields=["requested_at"], name="workrequest_requested_idx")]

    def __str__(self) -> str:
        return f"{self.kind} of product {self.product_id} (requested {self.requested_at:%Y-%m-%d %H:%M:%S})"


class AllocationRecord(models.Model):
    """What one allocation run did (``backorders.services.allocation_run``): the free units it found, who got what
    in queue order, and the first backorders it passed over with why (docs/promises.md, "Explain every place in the
    queue"). Written in the run's transaction, one row per run that had free stock and a queue."""

    product = models.ForeignKey("inventory.Product", on_delete=models.CASCADE, related_name="allocation_records")
    run_at = models.DateTimeField(db_index=True)
    # What most recently brought units in ("receipt PO-…", "adjustment …"): ties the run to a receipt.
    source = models.CharField(max_length=200, blank=True)
    units_free = models.PositiveIntegerField()
    units_allocated = models.PositiveIntegerField()
    served = models.JSONField(default=list)  # [{backorder, position, units, outstanding_after}] in queue order
    passed_over = models.JSONField(default=list)  # [{backorder, position, waiting}]: the first still waiting
    passed_over_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-run_at", "-id"]
        indexes = [models.Index(fields=["product", "run_at"], name="allocrecord_product_run_idx")]

    def __str__(self) -> str:
        return f"allocation of {self.product_id} at {self.run_at:%Y-%m-%d %H:%M}: {self.units_allocated} unit(s)"
