"""Consent at order time: what the customer agreed to when not everything is in stock, and the check of each short
line's expected date against the requested date and the customer's longest wait (docs/terms.md)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.utils import timezone

from backorders.services import newcomer_promises
from orders.exceptions import BackorderDeclined, EtaBeyondMaxWait, EtaBeyondRequestedDate
from orders.models import Customer, CustomerTerms


class BackorderConsent:
    """What the customer agreed to when not everything is in stock (docs/terms.md)."""

    ACCEPT = "accept"  # backorder the shortfall (the default)
    SHIP_AVAILABLE = "ship_available"  # take what is in stock, drop the rest, no backorder
    DECLINE = "decline"  # refuse the order if anything would wait

    values = (ACCEPT, SHIP_AVAILABLE, DECLINE)


def promises_checked(
    *,
    plans: list,
    customer: Customer,
    priority: str,
    placed_at: datetime,
    requested_date: date | None,
    terms: CustomerTerms | None,
    decline: bool,
    policy=None,
) -> tuple[dict[int, tuple], set[int]]:
    """The newcomer ETA of each short line, checked against the requested date and the customer's longest wait.

    Under ``decline`` anything short refuses the order (naming a date that is too late when there is one, as that
    is the more useful answer); under ``accept`` a line whose ETA is too late (or unknown) is marked at risk.
    """
    short = [(product, shortfall) for product, _, _, shortfall in plans if shortfall]
    ordered = {product.pk: quantity for product, quantity, _, _ in plans}
    etas = newcomer_promises(
        customer=customer,
        priority=priority,
        placed_at=placed_at,
        lines=[(product.pk, shortfall, ordered[product.pk]) for product, shortfall in short],
        policy=policy,
    )
    promises = {product.pk: promise for (product, _), promise in zip(short, etas, strict=True)}
    max_wait = terms.max_wait_days if terms is not None else None
    wait_limit = timezone.localdate(placed_at) + timedelta(days=max_wait) if max_wait is not None else None
    late_requested, late_wait = [], []
    for product, shortfall in short:
        eta = promises[product.pk][0]
        line = {"sku": product.sku, "backordered": shortfall, "eta": eta.isoformat() if eta else None}
        if requested_date is not None and (eta is None or eta > requested_date):
            late_requested.append(line)
        if wait_limit is not None and (eta is None or eta > wait_limit):
            late_wait.append(line)
    if decline:
        if late_requested:
            raise EtaBeyondRequestedDate(
                f"Not everything can arrive by {requested_date.isoformat()}: "
                + ", ".join(f"{line['sku']} ({line['eta'] or 'no date yet'})" for line in late_requested)
                + ".",
                details={"requested_date": requested_date.isoformat(), "lines": late_requested},
            )
        if late_wait:
            raise EtaBeyondMaxWait(
                f"These lines would wait longer than {max_wait} days: "
                + ", ".join(f"{line['sku']} ({line['eta'] or 'no date yet'})" for line in late_wait)
                + ".",
                details={"max_wait_days": max_wait, "lines": late_wait},
            )
        raise BackorderDeclined(
            "Not everything is in stock and the customer declined a backorder: "
            + ", ".join(f"{product.sku} ({shortfall} short)" for product, shortfall in short)
            + ".",
            details={"lines": [{"sku": p.sku, "backordered": q} for p, q in short]},
        )
    at_risk = {product.pk for product, _ in short if any(line["sku"] == product.sku for line in late_requested)}
    at_risk |= {product.pk for product, _ in short if any(line["sku"] == product.sku for line in late_wait)}
    return promises, at_risk
