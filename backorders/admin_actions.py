"""Admin actions on backorders that call the allocation services (kept apart from admin.py, which the API owns)."""

from __future__ import annotations

from django.contrib import messages

from core.errors import DomainError

from . import services
from .queue import QUEUE_ORDER


def priority_change_selected(model_admin, request, queryset, priority: str) -> None:
    done = 0
    for backorder in queryset:
        try:
            services.backorder_priority_change(
                backorder=backorder, priority=priority, reason=f"Set in the admin by {request.user}", user=request.user
            )
            done += 1
        except DomainError as exc:
            model_admin.message_user(request, f"Backorder {backorder.pk}: {exc.message}", messages.ERROR)
    if done:
        model_admin.message_user(request, f"{done} backorder(s) now {priority}.", messages.SUCCESS)


def reallocate_selected(model_admin, request, queryset) -> None:
    for backorder in queryset.order_by(*QUEUE_ORDER):
        try:
            moved = services.backorder_reallocate(
                backorder=backorder, reason=f"Reallocated in the admin by {request.user}", user=request.user
            )
            model_admin.message_user(request, f"Backorder {backorder.pk}: {moved} unit(s) moved.", messages.SUCCESS)
        except DomainError as exc:
            model_admin.message_user(request, f"Backorder {backorder.pk}: {exc.message}", messages.ERROR)


def send_update_selected(model_admin, request, queryset):
    """Staff write a free-text note; each selected backorder's customer is sent it (intermediate form)."""
    from django import forms
    from django.template.response import TemplateResponse

    from notifications.services import notification_manual_update

    class NoteForm(forms.Form):
        note = forms.CharField(widget=forms.Textarea(attrs={"rows": 5, "cols": 80}), max_length=2000)

    backorders = list(queryset.select_related("order__customer", "product"))
    form = NoteForm(request.POST if "apply" in request.POST else None)
    if form.is_bound and form.is_valid():
        sent = 0
        for backorder in backorders:
            try:
                sent += len(
                    notification_manual_update(backorder=backorder, note=form.cleaned_data["note"], user=request.user)
                )
            except DomainError as exc:
                model_admin.message_user(request, f"Backorder {backorder.pk}: {exc.message}", messages.ERROR)
        model_admin.message_user(
            request, f"Update written for {len(backorders)} backorder(s): {sent} message(s) queued."
        )
        return None
    return TemplateResponse(
        request,
        "admin/backorders/send_update.html",
        {**model_admin.admin_site.each_context(request), "form": form, "backorders": backorders},
    )
