"""Customer terms on the dashboard: every channel default and customer row, and one form to write them (through
``orders.services.customer_terms_set``, like the staff API and the admin)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from core.errors import DomainError
from core.permissions import permission_required_403
from orders.models import Customer, SalesChannel
from orders.selectors import customer_terms_list
from orders.services import customer_terms_delete, customer_terms_set


class TermsForm(forms.Form):
    channel = forms.CharField(max_length=50, required=False, help_text="Channel code (its default terms)")
    customer = forms.IntegerField(min_value=1, required=False, help_text="or a customer id")
    max_wait_days = forms.IntegerField(min_value=0, max_value=3650, required=False)
    auto_cancel_after_days = forms.IntegerField(min_value=0, max_value=3650, required=False)
    sla_days = forms.IntegerField(min_value=0, max_value=3650, required=False)
    allow_partial = forms.BooleanField(required=False, initial=True)
    accepts_substitutes = forms.BooleanField(required=False, initial=True)

    def clean(self):
        cleaned = super().clean()
        channel_code, customer_id = cleaned.get("channel"), cleaned.get("customer")
        if bool(channel_code) == bool(customer_id):
            raise forms.ValidationError("Give a channel code or a customer id (one of the two).")
        if channel_code:
            cleaned["owner"] = {"channel": SalesChannel.objects.filter(code=channel_code).first()}
        else:
            cleaned["owner"] = {"customer": Customer.objects.filter(pk=customer_id).first()}
        if not next(iter(cleaned["owner"].values())):
            raise forms.ValidationError("No such channel or customer.")
        return cleaned


@require_GET
def terms(request):
    context = {"rows": customer_terms_list().order_by("channel__code", "customer__name", "pk"), "form": TermsForm()}
    return render(request, "dashboard/terms.html", context)


@require_POST
@permission_required_403("orders.change_customerterms")
def terms_set(request):
    form = TermsForm(request.POST)
    if not form.is_valid():
        errors = [e for errs in form.errors.values() for e in errs]
        return render(
            request, "dashboard/action_error.html", {"errors": errors, "back": reverse("dashboard:terms")}, 422
        )
    data = form.cleaned_data
    fields = {name: data[name] for name in ("max_wait_days", "auto_cancel_after_days", "sla_days")}
    try:
        customer_terms_set(
            **data["owner"],
            **fields,
            allow_partial=data["allow_partial"],
            accepts_substitutes=data["accepts_substitutes"],
        )
    except DomainError as exc:
        return render(
            request,
            "dashboard/action_error.html",
            {"errors": [exc.message], "back": reverse("dashboard:terms")},
            exc.status,
        )
    messages.success(request, "Terms saved.")
    return HttpResponseRedirect(reverse("dashboard:terms"), status=303)


@require_POST
@permission_required_403("orders.delete_customerterms")
def terms_delete(request, pk: int):
    """Remove one row of terms: a customer falls back to the channel default, a channel to no limits."""
    row = get_object_or_404(customer_terms_list(), pk=pk)
    customer_terms_delete(terms=row)
    messages.success(request, "Terms removed.")
    return HttpResponseRedirect(reverse("dashboard:terms"), status=303)
