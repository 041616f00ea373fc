"""The customer's status page: ``/s/<signed token>``, no login (orders.status_links proves who may see it).

Server-rendered, no script. Actions are form posts (CSRF-protected, rate-limited per link) through the same
services as the API, recorded with the actor "customer". The page shows this order only: every backorder and
product an action names is looked up within it.
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.cache import cache
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from backorders.models import Backorder
from backorders.services import backorder_date_accept
from backorders.substitutes import backorder_accept_substitute
from core.actors import CUSTOMER
from core.errors import DomainError, InvalidInput, NotFoundError
from orders.exceptions import StatusLinkExpired, StatusLinkInvalid
from orders.signals import regular_updates_declined
from orders.status_links import order_for_status_token, order_status_path

from .selectors import order_status_lines
from .services import CancelRequest, order_cancel

DONE = {
    "cancel": "The waiting units you chose are cancelled. You will get a confirmation by e-mail.",
    "substitute": "Done: the alternative is reserved for you and ships with your order.",
    "accept_date": "Thank you: we noted that the new expected date works for you.",
    "opt_out": "You will no longer get regular status updates (we still write when something changes).",
}
RATE_WINDOW_SECONDS = 3600


def _rate_limited(token: str) -> bool:
    """Fixed window per link, counted in the shared cache (``cache.incr`` is atomic)."""
    key = "status-page:" + hashlib.sha256(token.encode()).hexdigest()[:32]
    cache.add(key, 0, timeout=RATE_WINDOW_SECONDS)
    try:
        used = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=RATE_WINDOW_SECONDS)
        used = 1
    return used > settings.OMS["STATUS_ACTIONS_PER_HOUR"]


def _backorder_of(order, raw) -> Backorder:
    try:
        pk = int(raw)
    except (TypeError, ValueError):
        raise NotFoundError("No such item on this order.") from None
    backorder = Backorder.objects.select_related("product", "order").filter(pk=pk, order=order).first()
    if backorder is None:
        raise NotFoundError("No such item on this order.")
    return backorder


def _quantity(raw) -> int:
    try:
        quantity = int(raw)
    except (TypeError, ValueError):
        raise InvalidInput("Say how many units to cancel.") from None
    if quantity <= 0:
        raise InvalidInput("Say how many units to cancel.")
    return quantity


def _act(order, post) -> str:
    action = post.get("action", "")
    if action == "cancel":
        backorder = _backorder_of(order, post.get("backorder"))
        order_cancel(
            order=order,
            lines=[CancelRequest(sku=backorder.product.sku, quantity=_quantity(post.get("quantity")))],
            reason="Cancelled by the customer on the status page",
            user=CUSTOMER,
            waiting_only=True,
        )
    elif action == "substitute":
        backorder = _backorder_of(order, post.get("backorder"))
        _, offer = order_status_lines(order=order)
        if not offer:
            raise InvalidInput("Substitutes are not offered under your account's terms.")
        backorder_accept_substitute(backorder=backorder, sku=post.get("sku", ""), user=CUSTOMER, channel=order.channel)
    elif action == "accept_date":
        backorder_date_accept(backorder=_backorder_of(order, post.get("backorder")), user=CUSTOMER)
    elif action == "opt_out":
        regular_updates_declined.send(sender=None, customer=order.customer, actor=CUSTOMER)
    else:
        raise InvalidInput("Unknown action.")
    return action


@never_cache
@require_http_methods(["GET", "POST"])
def order_status(request, token: str):
    try:
        order = order_for_status_token(token)
    except StatusLinkInvalid:
        return render(request, "fulfilment/status_gone.html", {"expired": False}, status=404)
    except StatusLinkExpired:
        return render(request, "fulfilment/status_gone.html", {"expired": True}, status=410)
    error, status = "", 200
    if request.method == "POST":
        if _rate_limited(token):
            error, status = "Too many changes from this link; please try again in an hour.", 429
        else:
            try:
                action = _act(order, request.POST)
            except DomainError as exc:
                error, status = exc.message, int(exc.status)
            else:
                return HttpResponseRedirect(f"{order_status_path(order)}?done={action}")
        order.refresh_from_db()
    lines, offer_substitutes = order_status_lines(order=order)
    context = {
        "order": order,
        "lines": lines,
        "offer_substitutes": offer_substitutes,
        "done": DONE.get(request.GET.get("done", "")),
        "error": error,
        "is_open": order.status not in ("shipped", "cancelled"),
    }
    return render(request, "fulfilment/status.html", context, status=status)
