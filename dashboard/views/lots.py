"""Staff dashboard pages of lots (docs/lots.md): the lot list with expiry, a lot with its recall list, hold/release.

Reads go through ``fulfilment.selectors`` and actions through ``fulfilment.services.lots``, exactly like the API.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.views.decorators.http import require_GET, require_POST

from core.errors import DomainError
from core.permissions import permission_required_403
from fulfilment.selectors import lot_recall, lots_list
from fulfilment.services.lots import lot_hold, lot_release
from inventory.models import Lot

PAGE_SIZE = 50


class LotReasonForm(forms.Form):
    reason = forms.CharField(max_length=200, strip=True, required=False)


@require_GET
def lots(request):
    rows = lots_list()
    sku = request.GET.get("product", "").strip()[:64]
    if sku:
        rows = rows.filter(product__sku__icontains=sku)
    warehouse = request.GET.get("warehouse", "").strip()[:32]
    if warehouse:
        rows = rows.filter(warehouse__code=warehouse)
    if request.GET.get("status") in Lot.Status.values:
        rows = rows.filter(status=request.GET["status"])
    before = (
        parse_date(request.GET.get("expiring_before", "") or "")
        if len(request.GET.get("expiring_before", "")) <= 10
        else None
    )
    if before:
        rows = rows.filter(expiry_date__lt=before)
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    today = timezone.localdate()
    for lot in page.object_list:
        lot.days_left = (lot.expiry_date - today).days if lot.expiry_date else None
    context = {
        "page": page,
        "statuses": Lot.Status.choices,
        "filters": {"product": sku, "warehouse": warehouse, "expiring_before": before},
    }
    return render(request, "dashboard/lots.html", context)


@require_GET
def lot(request, pk: int):
    found = lots_list().filter(pk=pk).first()
    if found is None:
        raise Http404("No such lot.")
    recall = lot_recall(found)
    days_left = (found.expiry_date - timezone.localdate()).days if found.expiry_date else None
    context = {"lot": found, "units": recall["units"], "recall": recall["recall"], "days_left": days_left}
    return render(request, "dashboard/lot.html", context)


def _act(request, pk: int, action, done: str):
    found = lots_list().filter(pk=pk).first()
    if found is None:
        raise Http404("No such lot.")
    back = reverse("dashboard:lot", args=[pk])
    form = LotReasonForm(request.POST)
    errors = [] if form.is_valid() else [f"{f}: {e}" for f, errs in form.errors.items() for e in errs]
    if not errors:
        try:
            action(lot=found, reason=form.cleaned_data["reason"], user=request.user)
        except DomainError as exc:
            return render(
                request, "dashboard/action_error.html", {"errors": [exc.message], "back": back}, status=exc.status
            )
        messages.success(request, done.format(number=found.number))
        return HttpResponseRedirect(back, status=303)
    return render(request, "dashboard/action_error.html", {"errors": errors, "back": back}, status=422)


@require_POST
@permission_required_403("inventory.hold_lot")
def hold(request, pk: int):
    if not request.POST.get("reason", "").strip():
        back = reverse("dashboard:lot", args=[pk])
        return render(
            request,
            "dashboard/action_error.html",
            {"errors": ["reason: say why (a recall number)."], "back": back},
            status=422,
        )
    return _act(request, pk, lot_hold, "Lot {number} is on hold: its reserved units went back to the queue.")


@require_POST
@permission_required_403("inventory.hold_lot")
def release(request, pk: int):
    return _act(request, pk, lot_release, "Hold on lot {number} lifted.")
