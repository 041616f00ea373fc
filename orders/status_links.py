"""The customer's status link: ``/s/<token>``, signed with Django's signing, bound to one order and its channel.

The token carries no expiry of its own: it stays valid while the order is open and for
``OMS["STATUS_LINK_DAYS_AFTER_CLOSE"]`` days after it closed (shipped or cancelled), so a link in an old e-mail
keeps working as long as there is something to see. A token that does not verify, or names an order of another
channel, is unknown (404); one for an order closed too long ago has expired (410).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.core import signing
from django.db.models import Max
from django.utils import timezone

from .exceptions import StatusLinkExpired, StatusLinkInvalid
from .models import Order

SALT = "oms.orders.status-link"


def order_status_token(order: Order) -> str:
    """The same token for an order every time (no timestamp inside: every message about the order carries the
    same link, and its expiry follows the order's close date, not the time the link was made)."""
    return signing.Signer(salt=SALT).sign_object({"o": order.pk, "c": order.channel_id or 0})


def order_status_path(order: Order) -> str:
    return f"/s/{order_status_token(order)}"


def order_status_url(order: Order) -> str:
    """Absolute when ``OMS["PUBLIC_BASE_URL"]`` is set (e-mails need it), else the path."""
    return settings.OMS["PUBLIC_BASE_URL"].rstrip("/") + order_status_path(order)


def order_closed_at(order: Order) -> datetime | None:
    if order.status == Order.Status.CANCELLED:
        return order.cancelled_at or order.placed_at
    if order.status == Order.Status.SHIPPED:
        return order.shipments.aggregate(last=Max("shipped_at"))["last"] or order.placed_at
    return None


def order_for_status_token(token: str, *, now: datetime | None = None) -> Order:
    """The order a token names, or StatusLinkInvalid (404) / StatusLinkExpired (410)."""
    try:
        claims = signing.Signer(salt=SALT).unsign_object(token)
        order_id, channel_id = int(claims["o"]), int(claims["c"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        raise StatusLinkInvalid() from None
    order = Order.objects.select_related("customer", "channel").filter(pk=order_id).first()
    if order is None or (order.channel_id or 0) != channel_id:
        raise StatusLinkInvalid()
    closed_at = order_closed_at(order)
    days = settings.OMS["STATUS_LINK_DAYS_AFTER_CLOSE"]
    if closed_at is not None and (now or timezone.now()) >= closed_at + timedelta(days=days):
        raise StatusLinkExpired()
    return order
