"""Admin actions on backorders that call the allocation services (kept apart from admin.py, which the API owns)."""

from __future__ import annotations

from django.contrib import messages

from config.errors import DomainError

from . import services


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
    for backorder in queryset.order_by("-priority_rank", "-priority_score", "placed_at", "id"):
        try:
            moved = services.backorder_reallocate(
                backorder=backorder, reason=f"Reallocated in the admin by {request.user}", user=request.user
            )
            model_admin.message_user(request, f"Backorder {backorder.pk}: {moved} unit(s) moved.", messages.SUCCESS)
        except DomainError as exc:
            model_admin.message_user(request, f"Backorder {backorder.pk}: {exc.message}", messages.ERROR)
