"""Staff dashboard: the overview, the backorder queue (with its actions) and the backorder detail page.

Pages read through ``metrics`` / ``dashboard`` and act through ``services`` only — the same functions
the API uses — so the two can never disagree.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.db import transaction
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.http import require_GET, require_POST

from backorders.explain import queue_explanation
from backorders.models import PRIORITY_RANKS, Backorder
from backorders.services import backorder_priority_change
from core.errors import DomainError
from core.permissions import permission_required_403
from dashboard import metrics
from dashboard.exports import csv_response, query_without, search_text, wants_csv
from dashboard.filters import QueueFilter, order_number_variants
from dashboard.selectors import SORTS, overview_get, queue_csv_rows, queue_rows, queue_sorted, row_annotations
from dashboard.timeline import backorder_timeline
from fulfilment.services import backorder_cancel
from orders.models import Order

PAGE_SIZE = 50


def _days_param(request) -> int:
    try:
        days = int(request.GET.get("days", 30))
    except ValueError:
        days = 30
    return days if days in metrics.PERIODS else 30


# --- overview ---------------------------------------------------------------------------------


@require_GET
def overview(request):
    # Aggregates over up to 180 days of orders: precomputed every minute by beat (dashboard_overview_refresh).
    context = overview_get(days=_days_param(request))
    partial = request.htmx and not request.htmx.boosted and request.htmx.target == "overview-body"
    template = "dashboard/_overview_body.html" if partial else "dashboard/overview.html"
    return render(request, template, context)


# --- queue ------------------------------------------------------------------------------------


@require_GET
def queue(request):
    filters = QueueFilter(request.GET, queryset=queue_rows())
    sort = request.GET.get("sort", "queue")
    if sort not in SORTS:
        sort = "queue"
    if not filters.is_valid():
        context = {"filters": filters, "page": None, "sorts": SORTS, "sort": sort, "errors": filters.errors}
        return render(request, "dashboard/queue.html", context, status=400)
    rows = queue_sorted(filters.qs, sort)
    if wants_csv(request):
        return csv_response(f"backorders-{timezone.localdate():%Y%m%d}.csv", queue_csv_rows(rows))
    page = _queue_page(request, sort)
    context = {
        "filters": filters,
        "page": page,
        "sorts": SORTS,
        "sort": sort,
        "priorities": list(PRIORITY_RANKS),
        "query_no_page": query_without(request, "page"),
        "query_no_sort": query_without(request, "page", "sort"),
        "query_no_format": query_without(request, "format", "page"),
        "next_url": request.get_full_path(),
        "now": timezone.now(),  # ages: timesince needs a datetime (with a date it fails and shows nothing)
    }
    partial = request.htmx and not request.htmx.boosted and request.htmx.target == "queue-results"
    return render(request, "dashboard/_queue_results.html" if partial else "dashboard/queue.html", context)


def _queue_page(request, sort: str):
    """One page of the queue in two steps: the ids of the page from the backorder table alone (filters and sort
    only, so PostgreSQL keeps just the top rows of its sort), then the full rows of those ids with their joins."""
    lean = QueueFilter(request.GET, queryset=Backorder.objects.all()).qs
    if sort in ("value", "units"):
        lean = lean.annotate(**row_annotations())
    paginator = Paginator(queue_sorted(lean, sort).values_list("id", flat=True), PAGE_SIZE)
    page = paginator.get_page(request.GET.get("page"))
    ids = list(page.object_list)
    rows = {backorder.pk: backorder for backorder in queue_rows().filter(pk__in=ids)}
    page.object_list = [rows[pk] for pk in ids if pk in rows]
    return page


# --- detail -----------------------------------------------------------------------------------


@require_GET
def detail(request, pk: int):
    backorder = get_object_or_404(
        queue_rows().select_related("order_line", "eta_purchase_order_line__purchase_order__supplier"), pk=pk
    )
    order = (
        Order.objects.select_related("customer", "channel")
        .prefetch_related("lines__product", "backorders")
        .get(pk=backorder.order_id)
    )
    from notifications.selectors import notifications_for_backorder

    timeline = backorder_timeline(backorder, backorder.events.all(), notifications_for_backorder(backorder))
    context = {
        "bo": backorder,
        "order": order,
        "timeline": timeline,
        "alternatives": _alternatives(backorder),
        "explanation": queue_explanation(backorder),
        "priorities": list(PRIORITY_RANKS),
        "next_url": request.get_full_path(),
    }
    return render(request, "dashboard/detail.html", context)


def _alternatives(backorder: Backorder) -> list:
    from backorders.substitutes import backorder_alternatives

    return backorder_alternatives(backorder)


# --- actions (each calls one service) ---------------------------------------------------------


class PriorityForm(forms.Form):
    priority = forms.ChoiceField(choices=[(p, p.title()) for p in PRIORITY_RANKS])
    reason = forms.CharField(max_length=300, strip=True)


class ReasonForm(forms.Form):
    reason = forms.CharField(max_length=300, strip=True, required=False)


class NoteForm(forms.Form):
    note = forms.CharField(max_length=2000, strip=True)


class BulkForm(forms.Form):
    action = forms.ChoiceField(choices=[("priority", "Change priority"), ("cancel", "Cancel")])
    ids = forms.TypedMultipleChoiceField(coerce=int, choices=[])
    priority = forms.ChoiceField(choices=[(p, p.title()) for p in PRIORITY_RANKS], required=False)
    reason = forms.CharField(max_length=300, strip=True, required=False)

    def __init__(self, data, *args, **kwargs):
        super().__init__(data, *args, **kwargs)
        self.fields["ids"].choices = [(v, v) for v in data.getlist("ids") if str(v).isdigit()]

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("action") == "priority":
            if not cleaned.get("priority"):
                self.add_error("priority", "Choose the new priority.")
            if not cleaned.get("reason"):
                self.add_error("reason", "Say why the priority changes.")
        return cleaned


def _next(request, fallback: str) -> str:
    target = request.POST.get("next") or fallback
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return fallback
    return target


def _done(request, message: str):
    messages.success(request, message)
    return HttpResponseRedirect(_next(request, reverse("dashboard:queue")), status=303)


def _refused(request, errors: list[str], *, status: int = 422):
    """A form error or a refused business rule: say why, change nothing."""
    context = {"errors": errors, "back": _next(request, reverse("dashboard:queue"))}
    return render(request, "dashboard/action_error.html", context, status=status)


def _form_errors(form: forms.Form) -> list[str]:
    return [
        f"{field}: {error}" if field != "__all__" else error for field, errs in form.errors.items() for error in errs
    ]


@require_POST
@permission_required_403("backorders.change_priority")
def change_priority(request, pk: int):
    backorder = get_object_or_404(Backorder, pk=pk)
    form = PriorityForm(request.POST)
    if not form.is_valid():
        return _refused(request, _form_errors(form))
    try:
        backorder_priority_change(
            backorder=backorder, priority=form.cleaned_data["priority"], reason=form.cleaned_data["reason"],
            user=request.user,
        )  # fmt: skip
    except DomainError as exc:
        return _refused(request, [exc.message], status=exc.status)
    return _done(request, f"BO-{pk}: priority set to {form.cleaned_data['priority']}.")


@require_POST
@permission_required_403("backorders.cancel_backorder")
def cancel(request, pk: int):
    backorder = get_object_or_404(Backorder.objects.select_related("order", "product"), pk=pk)
    form = ReasonForm(request.POST)
    if not form.is_valid():
        return _refused(request, _form_errors(form))
    try:
        backorder_cancel(backorder=backorder, reason=form.cleaned_data["reason"], user=request.user)
    except DomainError as exc:
        return _refused(request, [exc.message], status=exc.status)
    return _done(request, f"BO-{pk}: waiting units cancelled.")


@require_POST
@permission_required_403("notifications.send_update")
def send_update(request, pk: int):
    from notifications.services import notification_manual_update

    backorder = get_object_or_404(Backorder.objects.select_related("order", "product"), pk=pk)
    form = NoteForm(request.POST)
    if not form.is_valid():
        return _refused(request, _form_errors(form))
    try:
        sent = notification_manual_update(backorder=backorder, note=form.cleaned_data["note"], user=request.user)
    except DomainError as exc:
        return _refused(request, [exc.message], status=exc.status)
    return _done(request, f"BO-{pk}: update queued for the customer ({len(sent)} message(s)).")


BULK_PERMISSIONS = {"priority": "backorders.change_priority", "cancel": "backorders.cancel_backorder"}


def _bulk_permissions(request) -> list[str]:
    """What the chosen bulk action needs (an unknown action is refused by the form and changes nothing)."""
    permission = BULK_PERMISSIONS.get(request.POST.get("action", ""))
    return [permission] if permission else []


@require_POST
@permission_required_403(_bulk_permissions)
def bulk(request):
    form = BulkForm(request.POST)
    if not request.POST.getlist("ids"):
        return _refused(request, ["Select at least one backorder."])
    if not form.is_valid():
        return _refused(request, _form_errors(form))
    data = form.cleaned_data
    backorders = list(Backorder.objects.select_related("order", "product").filter(pk__in=data["ids"]).order_by("pk"))
    if len(backorders) != len(set(data["ids"])):
        return _refused(request, ["Some selected backorders no longer exist."], status=404)
    # All or nothing: one refused backorder rolls back the whole batch, so the result is never half-done.
    try:
        with transaction.atomic():
            for backorder in backorders:
                if data["action"] == "priority":
                    backorder_priority_change(
                        backorder=backorder, priority=data["priority"], reason=data["reason"], user=request.user
                    )
                else:
                    backorder_cancel(backorder=backorder, reason=data["reason"], user=request.user)
    except DomainError as exc:
        return _refused(request, [f"Nothing changed: {exc.message}"], status=exc.status)
    verb = f"priority set to {data['priority']}" if data["action"] == "priority" else "cancelled"
    return _done(request, f"{len(backorders)} backorder(s) {verb}.")


# --- search -----------------------------------------------------------------------------------


@require_GET
def search(request):
    """Order number → its backorders; SKU → the product page; email → the customer's backorders."""
    from inventory.models import Product
    from orders.models import Customer

    q = search_text(request)
    queue_url = reverse("dashboard:queue")
    if not q:
        return HttpResponseRedirect(queue_url)
    order = Order.objects.filter(number__in=order_number_variants(q)).only("pk", "number").first()
    if order:
        return HttpResponseRedirect(f"{queue_url}?{urlencode({'status': 'all', 'order': order.number})}")
    product = Product.objects.filter(sku__iexact=q).only("pk").first()
    if product:
        return HttpResponseRedirect(reverse("dashboard:product", args=[product.pk]))
    if Customer.objects.filter(email__iexact=q).exists():
        return HttpResponseRedirect(f"{queue_url}?{urlencode({'status': 'all', 'customer': q})}")
    context = {
        "q": q,
        "products": Product.objects.filter(sku__icontains=q).order_by("sku")[:10],
        "orders": Order.objects.filter(number__icontains=q).select_related("customer")[:10],
        "customers": Customer.objects.filter(email__icontains=q).order_by("email")[:10],
    }
    return render(request, "dashboard/search.html", context)
