from decimal import Decimal

from django.db import models
from django.db.models import Q
from django.db.models.functions import Now

from core.outbound import validate_outbound_url


class Notification(models.Model):
    """One message to one customer over one channel: the transactional outbox row.

    Written in the same transaction as the change that causes it; a Celery task delivers it after
    commit, and a periodic relay picks up whatever was not delivered (broker down, worker lost).
    """

    class Event(models.TextChoices):
        BACKORDER_CREATED = "backorder_created", "Backorder created"
        ETA_CHANGED = "eta_changed", "Expected date changed"
        READY = "ready", "Allocated, ready to ship"
        SHIPPED = "shipped", "Shipped"
        CANCELLED = "cancelled", "Cancelled"
        SUBSTITUTE_ACCEPTED = "substitute_accepted", "Switched to an alternative"
        REGULAR_UPDATE = "regular_update", "Regular update"
        INCENTIVE = "incentive", "Long-delay incentive"
        MANUAL_UPDATE = "manual_update", "Update from our team"
        # One e-mail for a customer with more than ETA_DIGEST_ABOVE backorders moved by one ETA rewrite, listing every
        # one of them (orders in ``context["order_ids"]``); e-mail only: shops keep one ``eta_changed`` per order.
        ETA_DIGEST = "eta_digest", "Expected dates changed (digest)"

    class Channel(models.TextChoices):
        EMAIL = "email", "Email"
        WEBHOOK = "webhook", "Webhook"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"  # claimed by the relay and handed to a worker
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    # The customer, order and backorder references are enforced once per statement by triggers on PostgreSQL
    # (core.references, migration 0016), not row by row by a declared foreign key: the outbox is written in bulk.
    customer = models.ForeignKey(
        "orders.Customer", on_delete=models.PROTECT, related_name="notifications", db_constraint=False
    )
    # Indexed by notification_order_idx (order, created_at). A digest (``eta_digest``) covers several orders: this
    # is the first of them, and ``context["order_ids"]`` lists all (indexed by notification_digest_orders_idx).
    order = models.ForeignKey(
        "orders.Order", on_delete=models.PROTECT, related_name="notifications", db_index=False, db_constraint=False
    )
    backorder = models.ForeignKey(
        "backorders.Backorder",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="notifications",
        db_constraint=False,
    )
    event = models.CharField(max_length=24, choices=Event.choices)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    # The same cause always yields the same key, so it can never produce two notifications.
    dedupe_key = models.CharField(max_length=200)  # unique: see Meta (a plain unique index, no LIKE twin)
    recipient = models.CharField(max_length=500, blank=True)  # email address or webhook URL
    subject = models.CharField(max_length=300, blank=True)
    body_text = models.TextField(blank=True)
    body_html = models.TextField(blank=True)
    payload = models.JSONField(default=dict, blank=True)  # webhook body
    # The endpoint a webhook row goes to (None for e-mail, or once the endpoint was deleted: the row then fails).
    # Indexed by notification_endpoint_idx (webhook rows only).
    webhook_endpoint = models.ForeignKey(
        "WebhookEndpoint",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="notifications",
        db_index=False,
    )
    # What happened, captured in the causing transaction; rendered into subject/body/payload (once, stored)
    # just before the first attempt, so the causing transaction stays short.
    context = models.JSONField(default=dict, blank=True)
    rendered_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)  # every attempt ever made (NotificationAttempt rows)
    # The attempts made before the last staff retry: a staff retry grants a fresh set of automatic retries
    # counted from there (NOTIFY_MAX_ATTEMPTS more), and never erases the history.
    attempts_before_retry = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    claimed_at = models.DateTimeField(null=True, blank=True)
    # A worker is sending this row until then: the lease that keeps a second worker from sending it at the
    # same time, while no row lock is held during the network call. Cleared when the result is written.
    sending_until = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    # Set on every change, also by set-based SQL (a trigger on PostgreSQL): what `?updated_since=` filters on.
    updated_at = models.DateTimeField(auto_now=True, db_default=Now())

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [
            ("send_update", "Can send a customer a free-text update about a backorder"),
            ("retry_notification", "Can retry a failed notification"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="sent") | Q(sent_at__isnull=False), name="notification_sent_has_sent_at"
            ),
            models.UniqueConstraint(fields=["dedupe_key"], name="notification_dedupe_key_unique"),
        ]
        indexes = [
            # The relay's work queue: due rows that still need delivering.
            models.Index(
                fields=["next_attempt_at", "id"],
                name="notification_due_idx",
                condition=Q(status__in=["pending", "sending"]),
            ),
            models.Index(fields=["order", "created_at"], name="notification_order_idx"),
            # notification_digest_orders_idx (PostgreSQL only, migration 0014): a GIN index of the orders a digest
            # covers (``context -> 'order_ids'``), digest rows only, for each order's notification list.
            # An endpoint's delivery log, the bulkhead's in-flight count, and SET NULL when an endpoint is deleted.
            models.Index(
                fields=["webhook_endpoint", "created_at"],
                name="notification_endpoint_idx",
                condition=Q(webhook_endpoint__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_event_display()} → {self.channel} ({self.status})"


# A bulk ETA rewrite that moves more than this many of one customer's backorders sends that customer ONE digest e-mail
# (``Notification.Event.ETA_DIGEST``) instead of one per order; this many or fewer keep their per-order messages.
ETA_DIGEST_ABOVE = 3
# Events that only go by e-mail: a webhook endpoint cannot subscribe to them.
EMAIL_ONLY_EVENTS = frozenset({Notification.Event.ETA_DIGEST})
# What a webhook endpoint may subscribe to: the choices (value, label) of every other event.
WEBHOOK_EVENTS = [(value, label) for value, label in Notification.Event.choices if value not in EMAIL_ONLY_EVENTS]


class NotificationAttempt(models.Model):
    """One delivery attempt of a notification: written when the attempt starts (claim), finished with its outcome."""

    class Outcome(models.TextChoices):
        IN_FLIGHT = "in_flight", "In flight"
        SENT = "sent", "Sent"
        TEMPORARY_FAILURE = "temporary_failure", "Failed, will retry"
        PERMANENT_FAILURE = "permanent_failure", "Failed for good"
        LOST = "lost", "Lost (the worker stopped; offered again)"

    notification = models.ForeignKey(Notification, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveSmallIntegerField()  # 1, 2, … across staff retries
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=20, choices=Outcome.choices, default=Outcome.IN_FLIGHT)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)  # the webhook receiver's answer
    error = models.CharField(max_length=300, blank=True)  # our own short words, never the receiver's body
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    # Set on every change, also by set-based SQL (a trigger on PostgreSQL): what `?updated_since=` filters on.
    updated_at = models.DateTimeField(auto_now=True, db_default=Now())

    class Meta:
        ordering = ["notification", "number"]
        constraints = [
            models.UniqueConstraint(fields=["notification", "number"], name="notification_attempt_number_unique"),
        ]

    def __str__(self) -> str:
        return f"Attempt {self.number} of notification {self.notification_id}: {self.outcome}"


class WebhookEndpoint(models.Model):
    """Where a sales channel wants its customer updates posted: a URL, the events it subscribes to, a secret.

    A channel may have several, each filtered by event type (``events``: Notification.Event values). The secret
    signs every delivery; it is shown once (at creation and at each rotation). After a rotation the previous
    secret keeps signing too (a second header) until ``previous_secret_expires_at``, so the receiver can switch
    without losing a delivery. Managed through ``notifications.services.webhooks`` (API, admin).
    """

    channel = models.ForeignKey("orders.SalesChannel", on_delete=models.CASCADE, related_name="webhook_endpoints")
    # Checked against the outbound rules when saved, and again at connect time (core/outbound.py).
    url = models.URLField(max_length=500, validators=[validate_outbound_url])
    events = models.JSONField(default=list)  # the Notification.Event values this endpoint receives
    is_active = models.BooleanField(default=True)
    secret = models.CharField(max_length=128)
    previous_secret = models.CharField(max_length=128, blank=True)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["channel", "id"]
        constraints = [
            models.CheckConstraint(condition=~Q(secret=""), name="webhook_endpoint_has_secret"),
        ]

    def __str__(self) -> str:
        return f"{self.url} ({self.channel_id})"

    def secrets_at(self, now) -> list[str]:
        """The secrets that sign a delivery now: the current one, then the previous one during its grace."""
        if self.previous_secret and self.previous_secret_expires_at and self.previous_secret_expires_at > now:
            return [self.secret, self.previous_secret]
        return [self.secret]


class WebhookEndpointHealth(models.Model):
    """The circuit breaker of one webhook endpoint (docs/operations.md).

    Closed while ``consecutive_failures`` is below NOTIFY_BREAKER_FAILURES; then open until ``open_until``
    (sends are not attempted, rows wait without using an attempt); after that half-open: one probe goes out
    (it holds ``open_until`` for its lease), and its success closes the breaker, its failure opens it again for
    twice as long. A new URL starts afresh.
    """

    endpoint = models.OneToOneField(WebhookEndpoint, on_delete=models.CASCADE, related_name="health")
    url = models.CharField(max_length=500, blank=True)  # the URL this state is about
    consecutive_failures = models.PositiveIntegerField(default=0)
    open_until = models.DateTimeField(null=True, blank=True)
    last_failure_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)

    class Meta:
        verbose_name = "webhook endpoint health"
        verbose_name_plural = "webhook endpoint health"

    def __str__(self) -> str:
        return f"Webhook endpoint {self.endpoint_id}: {self.consecutive_failures} failure(s) in a row"


class NotificationPreference(models.Model):
    class Channel(models.TextChoices):
        EMAIL = "email", "Email"
        # Only when the order's sales channel has a webhook endpoint for the event: the storefront tells the customer.
        WEBHOOK = "webhook", "Through the shop (webhook)"

    customer = models.OneToOneField("orders.Customer", on_delete=models.CASCADE, related_name="notification_preference")
    regular_updates = models.BooleanField(default=True, help_text="Send a status update every few days.")
    preferred_channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.EMAIL)
    # Who set it last: "customer" (the status page), "channel:<code>", a staff username.
    updated_by = models.CharField(max_length=100, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Preferences of {self.customer_id}"


class Incentive(models.Model):
    """A thank-you for a long wait, generated once per backorder."""

    class Kind(models.TextChoices):
        DISCOUNT_CODE = "discount_code", "Discount code"
        STORE_CREDIT = "store_credit", "Store credit"

    # Enforced once per statement on PostgreSQL (core.references, migration 0016): an ETA rewrite grants thousands.
    backorder = models.OneToOneField(
        "backorders.Backorder", on_delete=models.PROTECT, related_name="incentive", db_constraint=False
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    code = models.CharField(max_length=40, unique=True)
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3, default="EUR")
    reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=Decimal("0")), name="incentive_amount_non_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.code}"


class EventBatch(models.Model):
    """Backorder events whose customer notifications are still to be written: the allocation engine's
    outbox marker.

    The engine allocates to tens of thousands of backorders in one transaction while it holds the product's
    stock lock (order intake for that product waits). Instead of writing a notification per backorder there,
    it writes its events and this one row, in the same transaction; right after commit a task turns the
    events into notification rows (one INSERT … SELECT, idempotent through the dedupe keys) and deletes the
    row. The relay processes any row left behind (broker down, worker lost), so no update is lost.
    """

    class Kind(models.TextChoices):
        READY = "ready", "Allocated, ready to ship"
        # An ETA rewrite's chunk: its notifications are written once after the rewrite's last chunk, outside the
        # stock lock (backorders.eta); the relay writes those of a rewrite that stopped before that.
        ETA_CHANGED = "eta_changed", "Expected date changed"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    product = models.ForeignKey("inventory.Product", on_delete=models.CASCADE, related_name="+")
    # The engine's events of this product lie in [first, last]: the product's stock lock serialises its
    # writers, so no other transaction inserts events of this product inside the range meanwhile.
    first_event_id = models.BigIntegerField()
    last_event_id = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(first_event_id__lte=models.F("last_event_id")), name="event_batch_range_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} notifications for events {self.first_event_id}–{self.last_event_id}"
