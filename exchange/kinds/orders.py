"""Customers with their terms, and open orders (a go-live migration) placed through order placement."""

from __future__ import annotations

from datetime import date

from django.db import transaction
from django.utils import timezone

from core.errors import InvalidInput
from fulfilment.services import LineRequest, order_place
from inventory.locks import stock_items_lock_for_products
from inventory.models import Product
from orders.models import Customer, CustomerTerms, Order, SalesChannel
from orders.services import TERMS_FIELDS, CustomerData, customer_terms_set, customer_tier_set, customer_upsert

from .base import CODE, MISSING, Column, Kind, RowError, boolean, choice, email, integer, iso_date, merged, text


def _channels(records) -> dict[str, SalesChannel]:
    codes = {r.data.get("channel") for r in records if r.data.get("channel")}
    return {c.code: c for c in SalesChannel.objects.filter(code__in=codes)}


def _unknown_channel(record, channels) -> list[RowError]:
    code = record.data.get("channel")
    if code and code not in channels:
        return [RowError(record.rows[0], "channel", "unknown_channel", f"Unknown sales channel {code!r}.")]
    return []


class CustomersKind(Kind):
    permissions = ("orders.change_customer", "orders.add_customerterms", "orders.change_customerterms")
    name = "customers"
    title = "Customers with terms"
    description = (
        "Customers by sales channel and external id (a blank channel: a customer of orders entered by staff), their "
        "contact details, tier and terms. Terms columns left out keep the customer's terms; a blank day count means "
        "no limit."
    )
    key = ("channel", "external_id")
    columns = [
        Column("external_id", text(100), required=True, help="The customer's id in your system.", example="cus_123"),
        Column(
            "channel",
            text(50),
            default="",
            help="Sales channel code (blank: staff-entered orders).",
            example="web-shop",
        ),
        Column("email", email, help="Required for a new customer.", example="ann@example.com"),
        Column("name", text(200), help="Required for a new customer.", example="Ann Example"),
        Column(
            "tier",
            choice(Customer.Tier.values),
            default=Customer.Tier.STANDARD,
            help="standard, silver, gold or platinum.",
            example="gold",
        ),
        Column(
            "max_wait_days",
            integer(0, 3650),
            blank_is_none=True,
            help="Terms: longest acceptable wait (days).",
            example="30",
        ),
        Column(
            "auto_cancel_after_days",
            integer(0, 3650),
            blank_is_none=True,
            help="Terms: cancel waiting units after (days).",
            example="",
        ),
        Column("sla_days", integer(0, 3650), blank_is_none=True, help="Terms: ship within (days).", example="10"),
        Column("allow_partial", boolean, default=True, help="Terms: may ship partially (true/false).", example="true"),
        Column(
            "accepts_substitutes", boolean, default=True, help="Terms: offer substitutes (true/false).", example="true"
        ),
    ]
    FIELDS = ("email", "name", "tier")

    def plan(self, records):
        channels = _channels(records)
        existing = {}
        for customer in Customer.objects.filter(
            external_id__in={r.data["external_id"] for r in records}
        ).select_related("channel"):
            existing[(customer.channel.code if customer.channel else "", customer.external_id)] = customer
        terms = {t.customer_id: t for t in CustomerTerms.objects.filter(customer__in=[c.pk for c in existing.values()])}
        errors = {}
        for index, record in enumerate(records):
            if problems := _unknown_channel(record, channels):
                errors[index] = problems
                continue
            code = record.data.get("channel") or ""
            current = existing.get((code, record.data["external_id"]))
            record.current = current
            given_terms = {f: record.data[f] for f in TERMS_FIELDS if record.data.get(f) is not MISSING}
            record.extra = {"channel": channels.get(code), "terms": given_terms}
            record.data = {
                "external_id": record.data["external_id"],
                **merged(record.data, current, self.columns, self.FIELDS),
            }
            if current is None:
                record.action = "create"
                missing = [f for f in ("email", "name") if not record.data[f]]
                if missing:
                    errors[index] = [
                        RowError(record.rows[0], f, "required", "A value is required for a new customer.")
                        for f in missing
                    ]
                continue
            now_terms = terms.get(current.pk)
            same_terms = all(
                (getattr(now_terms, f) if now_terms else _default(f)) == v for f, v in given_terms.items()
            ) and (now_terms is not None or not given_terms)
            same = all(getattr(current, f) == record.data[f] for f in self.FIELDS) and same_terms
            record.action = "unchanged" if same else "update"
        return errors

    @transaction.atomic
    def write_one(self, record, *, user):
        data, channel = record.data, record.extra["channel"]
        customer = customer_upsert(
            data=CustomerData(
                data["external_id"], data["email"], data["name"], data["tier"] if channel is None else None
            ),
            channel=channel,
        )
        if customer.tier != data["tier"]:
            customer_tier_set(customer=customer, tier=data["tier"], user=user)
        if record.extra["terms"]:
            customer_terms_set(customer=customer, **record.extra["terms"])


def _default(field: str):
    return CustomerTerms._meta.get_field(field).get_default()


class OpenOrdersKind(Kind):
    permissions = ("orders.add_order",)
    ignored = (
        "number",
        "status",
        "placed_at",
        "quantity_allocated",
        "quantity_backordered",
        "quantity_shipped",
        "quantity_cancelled",
        "unit_price",
        "updated_at",
    )
    name = "open_orders"
    title = "Open orders"
    description = (
        "Orders still open in the system you leave (a go-live migration), one row per line; rows with the same "
        "external_reference are one order, placed through order placement exactly like a new order: what is free is "
        "reserved, the rest is backordered in the queue. Import oldest first: the queue follows the file's order. An "
        "order already imported is left as it is."
    )
    key = ("channel", "external_reference")
    grouped = True
    header_columns = (
        "customer_external_id",
        "customer_email",
        "customer_name",
        "ship_policy",
        "priority",
        "requested_date",
    )
    line_key = ("sku",)
    columns = [
        Column(
            "external_reference",
            text(100),
            required=True,
            help="The order's number in your system (natural key).",
            example="ERP-50001",
        ),
        Column("channel", text(50), default="", help="Sales channel code (blank: a staff order).", example="web-shop"),
        Column("customer_external_id", text(100), required=True, help="The customer's id.", example="cus_123"),
        Column("customer_email", email, help="Required for a customer not yet known.", example="ann@example.com"),
        Column("customer_name", text(200), help="Required for a customer not yet known.", example="Ann Example"),
        Column(
            "ship_policy",
            choice(Order.ShipPolicy.values),
            default=Order.ShipPolicy.PARTIAL,
            help="partial or complete.",
            example="partial",
        ),
        Column(
            "priority",
            choice(Order.Priority.values),
            default=Order.Priority.NORMAL,
            help="low, normal, high or critical (a channel's orders up to its cap).",
            example="normal",
        ),
        Column("requested_date", iso_date, help="YYYY-MM-DD, today or later.", example=""),
        Column("sku", CODE, required=True, help="Line: product SKU.", example="CHAIR-ERGO"),
        Column("quantity", integer(1, 100_000), required=True, help="Line: units.", example="2"),
    ]

    def plan(self, records):
        channels = _channels(records)
        refs = {r.data["external_reference"] for r in records}
        existing = {
            (o.channel.code if o.channel else "", o.external_reference): o
            for o in Order.objects.filter(external_reference__in=refs)
            .select_related("channel")
            .prefetch_related("lines__product")
        }
        skus = set(
            Product.objects.filter(sku__in={line["sku"] for r in records for line in r.extra["lines"]}).values_list(
                "sku", flat=True
            )
        )
        customers = {
            (c.channel.code if c.channel else "", c.external_id)
            for c in Customer.objects.filter(
                external_id__in={r.data["customer_external_id"] for r in records}
            ).select_related("channel")
        }
        today = timezone.localdate()
        errors = {}
        for index, record in enumerate(records):
            head, first = record.data, record.rows[0]
            problems = _unknown_channel(record, channels)
            for line in record.extra["lines"]:
                if line["sku"] not in skus:
                    problems.append(RowError(line["row"], "sku", "unknown_sku", f"Unknown SKU {line['sku']!r}."))
            code = head.get("channel") or ""
            if (code, head["customer_external_id"]) not in customers:
                for f in ("customer_email", "customer_name"):
                    if not head.get(f):
                        problems.append(RowError(first, f, "required", "Required for a customer not yet known."))
            requested = head.get("requested_date")
            if isinstance(requested, date) and requested < today:
                problems.append(RowError(first, "requested_date", "date_out_of_range", "A requested date is not past."))
            current = existing.get((code, head["external_reference"]))
            record.current = current
            record.extra["channel"] = channels.get(code)
            if current is not None:
                placed = {line.product.sku: line.quantity for line in current.lines.all()}
                if placed == {line["sku"]: line["quantity"] for line in record.extra["lines"]}:
                    record.action = "unchanged"
                else:
                    problems.append(
                        RowError(
                            first,
                            "external_reference",
                            "order_exists",
                            f"Order {current.number} was placed from {head['external_reference']} with other "
                            "lines; change it through the order API (cancel lines), not by import.",
                        )
                    )
            else:
                record.action = "create"
            if problems:
                errors[index] = problems
        return errors

    def write(self, records, *, user, partial, progress):
        if not partial:
            # All or nothing in one transaction: take every stock lock the file needs first, all at once in key
            # order (the global lock order), so the placements never wait on a live order in a circle.
            skus = {line["sku"] for r in records for line in r.extra["lines"]}
            stock_items_lock_for_products(Product.objects.filter(sku__in=skus).values_list("pk", flat=True))
        return super().write(records, user=user, partial=partial, progress=progress)

    def write_one(self, record, *, user):
        head = record.data
        result = order_place(
            customer=CustomerData(
                head["customer_external_id"], head.get("customer_email") or "", head.get("customer_name") or ""
            ),
            lines=[LineRequest(line["sku"], line["quantity"]) for line in record.extra["lines"]],
            channel=record.extra["channel"],
            ship_policy=head.get("ship_policy") or Order.ShipPolicy.PARTIAL,
            priority=head.get("priority") or Order.Priority.NORMAL,
            requested_date=head.get("requested_date") or None,
            external_reference=head["external_reference"],
            user=user,
        )
        if not result.created:
            raise InvalidInput("This order was already placed.")
