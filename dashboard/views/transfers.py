"""Staff dashboard pages of transfers between warehouses (docs/warehouses.md): list, detail with its actions, create.
Reads through inventory's selectors, writes through ``inventory.transfers`` (each action checks its permission)."""

from __future__ import annotations

from datetime import date

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from core.errors import DomainError, InvalidInput
from core.permissions import permission_required_403
from inventory import transfers as transfer_services
from inventory.models import Transfer
from inventory.selectors import transfer_get, transfer_list, warehouses_list

PAGE_SIZE = 50
ACTIONS = {
    "ship": ("inventory.ship_transfer", transfer_services.transfer_ship, "shipped: its units left"),
    "receive": ("inventory.receive_transfer", transfer_services.transfer_receive, "received"),
    "cancel": ("inventory.cancel_transfer", transfer_services.transfer_cancel, "cancelled"),
}


def _error(request, exc: DomainError, back: str):
    return render(request, "dashboard/action_error.html", {"errors": [exc.message], "back": back}, status=exc.status)


@require_GET
def transfers(request):
    status = request.GET.get("status", "")
    warehouse = request.GET.get("warehouse", "")
    queryset = transfer_list().order_by("-id")
    if status in Transfer.Status.values:
        queryset = queryset.filter(status=status)
    if warehouse:
        queryset = queryset.filter(Q(source__code=warehouse) | Q(destination__code=warehouse))
    page = Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "status": status,
        "warehouse": warehouse,
        "statuses": Transfer.Status.choices,
        "warehouses": warehouses_list(),
    }
    return render(request, "dashboard/transfers.html", context)


@require_GET
def transfer(request, number: str):
    item = transfer_get(number=number)
    if item is None:
        raise Http404("No such transfer.")
    return render(request, "dashboard/transfer.html", {"transfer": item})


def _action_permission(request) -> list[str]:
    action = ACTIONS.get(request.resolver_match.kwargs.get("action", ""))
    return [action[0]] if action else []


@require_POST
@permission_required_403(_action_permission)
def transfer_action(request, number: str, action: str):
    if action not in ACTIONS:
        raise Http404("No such action.")
    item = transfer_get(number=number)
    if item is None:
        raise Http404("No such transfer.")
    back = reverse("dashboard:transfer", args=[number])
    _, service, done = ACTIONS[action]
    try:
        service(transfer=item, user=request.user)
    except DomainError as exc:
        return _error(request, exc, back)
    messages.success(request, f"Transfer {number} {done}.")
    return HttpResponseRedirect(back, status=303)


@require_GET
def transfer_new(request):
    """The form, prefilled from a suggestion (shortages / planning: ?source=&destination=&sku=&quantity=)."""
    form = {key: request.GET.get(key, "") for key in ("source", "destination", "sku", "quantity", "expected_date")}
    return render(request, "dashboard/transfer_new.html", {"form": form, "warehouses": warehouses_list()})


@require_POST
@permission_required_403("inventory.add_transfer")
def transfer_create(request):
    back = reverse("dashboard:transfer_new")
    data = request.POST
    try:
        quantity = int(data.get("quantity", ""))
        expected = date.fromisoformat(data["expected_date"]) if data.get("expected_date") else timezone.localdate()
    except ValueError:
        return _error(request, InvalidInput("Give a whole quantity and a date (YYYY-MM-DD)."), back)
    try:
        created = transfer_services.transfer_create(
            source=data.get("source", ""),
            destination=data.get("destination", ""),
            lines=[transfer_services.TransferLineRequest(data.get("sku", "").strip(), quantity)],
            expected_date=expected,
            note=data.get("note", "")[:300],
            user=request.user,
        )
    except DomainError as exc:
        return _error(request, exc, back)
    messages.success(request, f"Draft transfer {created.number} created: ship it when the units leave.")
    return HttpResponseRedirect(reverse("dashboard:transfer", args=[created.number]), status=303)
