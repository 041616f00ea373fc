"""The staff dashboard (server-rendered pages), mounted at "/" by config.urls.

Every page is wrapped in ``staff_only`` here, in one place: anonymous visitors go to the login page,
signed-in users who are not staff get 403. Pages are open to every staff member; each action (POST) also needs
the Django permissions its view declares with ``core.permissions.permission_required_403``, and an action that
declares none is refused to all but superusers.
"""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.urls import path

from core.permissions import SAFE_METHODS

from .views import backorders as backorder_views
from .views import imports as import_views
from .views import lots as lot_views
from .views import products as inventory_views
from .views import reports as report_views
from .views import suppliers as supplier_views
from .views import terms as terms_views
from .views import transfers as transfer_views


def staff_only(view):
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        user = request.user
        if not user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not (user.is_active and user.is_staff):
            raise PermissionDenied("The dashboard is for staff only.")
        if request.method not in SAFE_METHODS and not (
            user.is_superuser or getattr(view, "required_permissions", None)
        ):
            raise PermissionDenied("This action declares no permission; only superusers may use it.")
        return view(request, *args, **kwargs)

    return wrapper


app_name = "dashboard"

urlpatterns = [
    path("", staff_only(backorder_views.overview), name="overview"),
    path("search/", staff_only(backorder_views.search), name="search"),
    path("backorders/", staff_only(backorder_views.queue), name="queue"),
    path("backorders/bulk/", staff_only(backorder_views.bulk), name="bulk"),
    path("backorders/<int:pk>/", staff_only(backorder_views.detail), name="backorder"),
    path("backorders/<int:pk>/priority/", staff_only(backorder_views.change_priority), name="priority"),
    path("backorders/<int:pk>/cancel/", staff_only(backorder_views.cancel), name="cancel"),
    path("backorders/<int:pk>/update/", staff_only(backorder_views.send_update), name="send_update"),
    path("shortages/", staff_only(inventory_views.shortages), name="shortages"),
    path("shortages/<int:product_id>/draft-po/", staff_only(inventory_views.draft_po), name="draft_po"),
    path("products/", staff_only(inventory_views.products), name="products"),
    path("products/<int:pk>/", staff_only(inventory_views.product), name="product"),
    path("lots/", staff_only(lot_views.lots), name="lots"),
    path("lots/<int:pk>/", staff_only(lot_views.lot), name="lot"),
    path("lots/<int:pk>/hold/", staff_only(lot_views.hold), name="lot_hold"),
    path("lots/<int:pk>/release/", staff_only(lot_views.release), name="lot_release"),
    path("suppliers/", staff_only(supplier_views.scorecard), name="suppliers"),
    path("planning/", staff_only(supplier_views.planning), name="planning"),
    path("transfers/", staff_only(transfer_views.transfers), name="transfers"),
    path("transfers/new/", staff_only(transfer_views.transfer_new), name="transfer_new"),
    path("transfers/create/", staff_only(transfer_views.transfer_create), name="transfer_create"),
    path("transfers/<str:number>/", staff_only(transfer_views.transfer), name="transfer"),
    path(
        "transfers/<str:number>/<str:action>/",
        staff_only(transfer_views.transfer_action),
        name="transfer_action",
    ),
    path("reports/backorder-cost/", staff_only(report_views.backorder_cost), name="backorder_cost"),
    path(
        "planning/<int:product_id>/draft-po/",
        staff_only(inventory_views.draft_po),
        {"source": "planning"},
        name="planning_draft_po",
    ),
    path("suppliers/<int:pk>/", staff_only(supplier_views.supplier), name="supplier"),
    path("terms/", staff_only(terms_views.terms), name="terms"),
    path("terms/set/", staff_only(terms_views.terms_set), name="terms_set"),
    path("terms/<int:pk>/delete/", staff_only(terms_views.terms_delete), name="terms_delete"),
    path("imports/", staff_only(import_views.imports), name="imports"),
    path("imports/<int:pk>/", staff_only(import_views.import_detail), name="import"),
]
