"""Staff roles and permissions: every staff write (API, dashboard, admin action) needs its Django permission.

A staff member without it gets 403 (problem+json on the API) and nothing in the database changes; a member of a
role that has it succeeds. The role groups in the database are the table of core/roles.py, which docs/security.md
shows. Each case below names the permissions it needs on its own (not read from the view), so a view that checks
the wrong permission fails here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest
from django.apps import apps as django_apps
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from rest_framework.test import APIClient, APIRequestFactory, force_authenticate
from rest_framework.views import APIView

from backorders.models import Backorder
from core.api import IsStaff
from core.roles import ADMIN, OMS_APPS, ROLES, role_permissions, roles_sync
from inventory.models import Warehouse
from inventory.transfers import TransferLineRequest, transfer_create, transfer_ship
from notifications.models import Notification
from orders.models import Order
from suppliers.models import PurchaseOrder
from tests.conftest import role_group
from tests.notifications.factories import substitute_link
from tests.suppliers.factories import (
    PurchaseOrderFactory,
    PurchaseOrderLineFactory,
    SupplierFactory,
    SupplierProductFactory,
)

DAY = timezone.localdate() + timedelta(days=10)


def snapshot() -> dict[str, list[tuple]]:
    """Every row of every OMS model, to prove a refused request wrote nothing at all."""
    rows = {}
    for label in OMS_APPS:
        for model in django_apps.get_app_config(label).get_models():
            rows[model._meta.label] = list(model.objects.order_by("pk").values_list())
    return rows


@pytest.fixture
def world(make_product, place, customer):
    """One of everything a staff action works on."""
    widget = make_product(sku="WIDGET", stock=5, unit_price="10.00")
    blue = make_product(sku="BLUE", stock=0)
    red = make_product(sku="RED", stock=10)
    substitute_link(blue, red)
    SupplierProductFactory(product=blue, supplier=SupplierFactory(code="acme"), lead_time_days=10)
    shippable = place({"WIDGET": 2}, customer=customer)
    waiting = place({"BLUE": 3}, customer=customer)
    notification = Notification.objects.order_by("pk").first()
    Notification.objects.filter(pk=notification.pk).update(status="failed", attempts=6, last_error="SMTP down")
    draft = PurchaseOrderFactory(status=PurchaseOrder.Status.DRAFT, supplier=SupplierFactory(code="acme"))
    PurchaseOrderLineFactory(purchase_order=draft, product=widget)
    sent = PurchaseOrderFactory(supplier=SupplierFactory(code="acme"))
    PurchaseOrderLineFactory(purchase_order=sent, product=widget, quantity_ordered=10)
    Warehouse.objects.create(code="NORTH", name="North")
    transfer_draft, transfer_transit = (
        transfer_create(source="MAIN", destination="NORTH", lines=[TransferLineRequest("WIDGET", 1)], expected_date=DAY)
        for _ in range(2)
    )
    transfer_ship(transfer=transfer_transit)
    return {
        "tr_draft": transfer_draft.number,
        "tr_transit": transfer_transit.number,
        "order": shippable.number,
        "bo": waiting.backorders.get().pk,
        "notification": notification.pk,
        "customer": customer.external_id,
        "draft": draft.number,
        "sent": sent.number,
        "blue": blue.pk,
    }


@dataclass(frozen=True)
class Case:
    name: str
    method: str
    url: str
    needs: tuple[str, ...]
    body: dict = field(default_factory=dict)
    ok: tuple[int, ...] = (200, 201)


API = [
    Case("product-create", "post", "/api/v1/products/", ("inventory.add_product",),
         {"sku": "NEW-1", "name": "New", "unit_price": "5.00"}),
    Case("product-price", "patch", "/api/v1/products/WIDGET/", ("inventory.change_product",), {"unit_price": "1.00"}),
    Case("warehouse-create", "post", "/api/v1/warehouses/", ("inventory.add_warehouse",),
         {"code": "EAST", "name": "East"}),
    Case("stock-adjust", "post", "/api/v1/stock/adjustments/", ("inventory.adjust_stock",),
         {"sku": "WIDGET", "warehouse": "MAIN", "quantity": 3, "reason": "count", "reference": "c-1"}),
    Case("order-place", "post", "/api/v1/orders/", ("orders.add_order",),
         {"customer": {"external_id": "c-9", "email": "c9@example.com", "name": "C9"},
          "lines": [{"sku": "WIDGET", "quantity": 1}]}),
    Case("order-ship", "post", "/api/v1/orders/{order}/ship/", ("orders.ship_order",)),
    Case("order-cancel", "post", "/api/v1/orders/{order}/cancel/", ("orders.cancel_order",), {"reason": "x"}),
    Case("backorder-priority", "post", "/api/v1/backorders/{bo}/priority/", ("backorders.change_priority",),
         {"priority": "high", "reason": "VIP"}),
    # Nothing lower in the queue holds units: the engine refuses (409), which proves the permission let it through.
    Case("backorder-reallocate", "post", "/api/v1/backorders/{bo}/reallocate/", ("backorders.reallocate",),
         ok=(409,)),
    Case("backorder-substitute", "post", "/api/v1/backorders/{bo}/accept-substitute/",
         ("backorders.accept_substitute",), {"sku": "RED"}),
    Case("backorder-notify", "post", "/api/v1/backorders/{bo}/notify/", ("notifications.send_update",),
         {"note": "Soon."}),
    Case("notification-retry", "post", "/api/v1/notifications/{notification}/retry/",
         ("notifications.retry_notification",)),
    Case("preferences-put", "put", "/api/v1/customers/{customer}/notification-preferences/",
         ("notifications.change_notificationpreference",), {"regular_updates": False}),
    Case("preferences-patch", "patch", "/api/v1/customers/{customer}/notification-preferences/",
         ("notifications.change_notificationpreference",), {"preferred_channel": "webhook"}),
    Case("supplier-create", "post", "/api/v1/suppliers/", ("suppliers.add_supplier",),
         {"code": "newco", "name": "NewCo", "email": "n@newco.test"}),
    Case("supplier-product", "post", "/api/v1/supplier-products/",
         ("suppliers.add_supplierproduct", "suppliers.change_supplierproduct"),
         {"supplier": "acme", "sku": "RED", "lead_time_days": 5, "min_order_quantity": 1, "pack_size": 1,
          "unit_cost": "1.00", "preferred": False}),
    Case("po-create", "post", "/api/v1/purchase-orders/", ("suppliers.add_purchaseorder",),
         {"supplier": "acme", "warehouse": "MAIN", "expected_date": DAY.isoformat(),
          "lines": [{"sku": "BLUE", "quantity": 5}]}),
    Case("po-revise", "patch", "/api/v1/purchase-orders/{sent}/", ("suppliers.change_purchaseorder",),
         {"reason": "late", "expected_date": (DAY + timedelta(days=3)).isoformat()}),
    Case("po-send", "post", "/api/v1/purchase-orders/{draft}/send/", ("suppliers.change_purchaseorder",)),
    Case("po-cancel", "post", "/api/v1/purchase-orders/{sent}/cancel/", ("suppliers.change_purchaseorder",),
         {"reason": "x"}),
    Case("po-receive", "post", "/api/v1/purchase-orders/{sent}/receive/", ("suppliers.receive_purchase_order",),
         {"lines": [{"sku": "WIDGET", "quantity": 2}]}),
    Case("transfer-create", "post", "/api/v1/transfers/", ("inventory.add_transfer",),
         {"source": "MAIN", "destination": "NORTH", "expected_date": DAY.isoformat(),
          "lines": [{"sku": "WIDGET", "quantity": 1}]}),
    Case("transfer-ship", "post", "/api/v1/transfers/{tr_draft}/ship/", ("inventory.ship_transfer",)),
    Case("transfer-receive", "post", "/api/v1/transfers/{tr_transit}/receive/", ("inventory.receive_transfer",)),
    Case("transfer-cancel", "post", "/api/v1/transfers/{tr_draft}/cancel/", ("inventory.cancel_transfer",)),
]  # fmt: skip

DASHBOARD = [
    Case("priority", "post", "/backorders/{bo}/priority/", ("backorders.change_priority",),
         {"priority": "high", "reason": "VIP"}, ok=(303,)),
    Case("cancel", "post", "/backorders/{bo}/cancel/", ("backorders.cancel_backorder",), {"reason": "x"}, ok=(303,)),
    Case("send-update", "post", "/backorders/{bo}/update/", ("notifications.send_update",), {"note": "Soon."},
         ok=(303,)),
    Case("bulk-priority", "post", "/backorders/bulk/", ("backorders.change_priority",),
         {"action": "priority", "ids": ["{bo}"], "priority": "high", "reason": "VIP"}, ok=(303,)),
    Case("bulk-cancel", "post", "/backorders/bulk/", ("backorders.cancel_backorder",),
         {"action": "cancel", "ids": ["{bo}"], "reason": "x"}, ok=(303,)),
    Case("draft-po-shortage", "post", "/shortages/{blue}/draft-po/", ("suppliers.add_purchaseorder",), ok=(303,)),
    # With no sales history the plan may say "nothing to order" (409): still past the permission check.
    Case("draft-po-planning", "post", "/planning/{blue}/draft-po/", ("suppliers.add_purchaseorder",),
         {"service_level": "0.95"}, ok=(303, 409)),
    Case("transfer-create", "post", "/transfers/create/", ("inventory.add_transfer",),
         {"source": "MAIN", "destination": "NORTH", "sku": "WIDGET", "quantity": "1",
          "expected_date": DAY.isoformat()}, ok=(303,)),
    Case("transfer-ship", "post", "/transfers/{tr_draft}/ship/", ("inventory.ship_transfer",), ok=(303,)),
    Case("transfer-receive", "post", "/transfers/{tr_transit}/receive/", ("inventory.receive_transfer",), ok=(303,)),
    Case("transfer-cancel", "post", "/transfers/{tr_draft}/cancel/", ("inventory.cancel_transfer",), ok=(303,)),
]  # fmt: skip


def _fill(value, world):
    if isinstance(value, str):
        return value.format(**world)
    if isinstance(value, list):
        return [_fill(item, world) for item in value]
    if isinstance(value, dict):
        return {key: _fill(item, world) for key, item in value.items()}
    return value


def _api_call(client, case: Case, world):
    return getattr(client, case.method)(_fill(case.url, world), _fill(case.body, world), format="json")


def _user(django_user_model, *roles: str):
    user = django_user_model.objects.create_user("member", "member@example.com", "pw", is_staff=True)
    for role in roles:
        user.groups.add(role_group(role))
    return user


def _api_client(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def _roles_with(needs: tuple[str, ...]) -> list[str]:
    return [role for role in ROLES if set(needs) <= role_permissions(role)]


# --- the API ----------------------------------------------------------------------------------


@pytest.mark.parametrize("case", API, ids=lambda case: case.name)
def test_api_write_without_the_permission_is_403_and_writes_nothing(case, world, bare_staff_client, problem):
    before = snapshot()
    body = problem(_api_call(bare_staff_client, case, world), 403, "permission_denied")
    assert all(permission in body["detail"] for permission in case.needs)
    assert snapshot() == before


@pytest.mark.parametrize("case", API, ids=lambda case: case.name)
@pytest.mark.parametrize("role", list(ROLES))
def test_api_write_by_role(case, role, world, django_user_model, problem):
    """A role with the permissions succeeds; every other role is refused and changes nothing."""
    client = _api_client(_user(django_user_model, role))
    before = snapshot()
    response = _api_call(client, case, world)
    if role in _roles_with(case.needs):
        assert response.status_code in case.ok, response.content[:500]
    else:
        problem(response, 403, "permission_denied")
        assert snapshot() == before


def test_every_api_write_has_a_role_besides_admin():
    for case in API:
        assert [role for role in _roles_with(case.needs) if role != ADMIN], case.name


def test_superuser_passes_every_check(world, django_user_model):
    user = django_user_model.objects.create_superuser("root", "root@example.com", "pw")
    response = _api_call(_api_client(user), API[3], world)  # stock adjustment
    assert response.status_code == 201


def test_reads_stay_open_to_every_staff_member(world, bare_staff_client):
    for url in ["/api/v1/stock/", "/api/v1/orders/", "/api/v1/backorders/", "/api/v1/purchase-orders/",
                "/api/v1/notifications/", "/api/v1/planning/", "/api/v1/metrics/"]:  # fmt: skip
        assert bare_staff_client.get(url).status_code == 200, url


def test_channels_are_not_judged_by_staff_permissions(world, channel_client, make_product):
    """A channel places, cancels its own order and accepts a substitute with its API key as before."""
    response = channel_client.post(
        "/api/v1/orders/",
        {"customer": {"external_id": "s-1", "email": "s1@example.com", "name": "S"},
         "lines": [{"sku": "BLUE", "quantity": 2}]},
        format="json",
    )  # fmt: skip
    assert response.status_code == 201, response.content
    number = response.json()["number"]
    backorder = Backorder.objects.get(order__number=number).pk
    response = channel_client.post(f"/api/v1/backorders/{backorder}/accept-substitute/", {"sku": "RED"}, format="json")
    assert response.status_code == 200, response.content
    response = channel_client.post(f"/api/v1/orders/{number}/cancel/", {"reason": "changed mind"}, format="json")
    assert response.status_code == 200, response.content
    assert Order.objects.get(number=number).status == "cancelled"


def _write_methods(view_class) -> list[str]:
    return [method.upper() for method in ("post", "put", "patch", "delete") if hasattr(view_class, method)]


def _api_views():
    def walk(patterns):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns)
            elif isinstance(pattern, URLPattern) and issubclass(
                getattr(pattern.callback, "view_class", object), APIView
            ):
                yield pattern.callback.view_class

    return {view for view in walk(get_resolver().url_patterns) if view.__module__.split(".")[0] in OMS_APPS}


# Writes that no user or API key makes: the request is authenticated by its HMAC signature alone (tests/exchange
# prove a bad or stale signature is 401 and writes nothing), so there is no staff permission to declare.
SIGNED_ONLY = {"InboundEventApi"}


def test_every_api_write_declares_its_permissions():
    views = _api_views()
    assert len(views) > 10
    for view in views:
        if view.__name__ in SIGNED_ONLY:
            assert view.authentication_classes == [] and view.permission_classes == []
            continue
        declared = getattr(view, "required_permissions", {})
        for method in _write_methods(view):
            assert declared.get(method), f"{view.__name__}.{method} declares no permission"


def test_a_write_that_declares_no_permission_is_refused_to_staff(bare_staff_user, django_user_model):
    """Fail closed: a new endpoint left without required_permissions is for superusers only."""

    class Undeclared(APIView):
        permission_classes = [IsStaff]

        def post(self, request):
            return None

    factory = APIRequestFactory()
    for user in [bare_staff_user, _user(django_user_model, ADMIN)]:
        request = factory.post("/x/")
        force_authenticate(request, user)
        assert Undeclared.as_view()(request).status_code == 403


# --- the dashboard ----------------------------------------------------------------------------


def _dashboard_call(client, case: Case, world):
    return client.post(_fill(case.url, world), _fill(case.body, world))


@pytest.mark.parametrize("case", DASHBOARD, ids=lambda case: case.name)
def test_dashboard_action_without_the_permission_is_403_and_writes_nothing(case, world, client, bare_staff_user):
    client.force_login(bare_staff_user)
    before = snapshot()
    response = _dashboard_call(client, case, world)
    assert response.status_code == 403
    assert snapshot() == before


@pytest.mark.parametrize("case", DASHBOARD, ids=lambda case: case.name)
@pytest.mark.parametrize("role", list(ROLES))
def test_dashboard_action_by_role(case, role, world, django_user_model):
    client = Client()
    client.force_login(_user(django_user_model, role))
    before = snapshot()
    response = _dashboard_call(client, case, world)
    if role in _roles_with(case.needs):
        assert response.status_code in case.ok, response.content[:500]
    else:
        assert response.status_code == 403
        assert snapshot() == before


def test_dashboard_pages_stay_open_to_every_staff_member(world, client, bare_staff_user):
    client.force_login(bare_staff_user)
    for url in [
        "/",
        "/backorders/",
        f"/backorders/{world['bo']}/",
        "/shortages/",
        "/products/",
        "/planning/",
        "/transfers/",
        f"/transfers/{world['tr_draft']}/",
        "/transfers/new/",
        "/shortages/?warehouse=NORTH",
    ]:
        assert client.get(url).status_code == 200, url


def test_every_dashboard_action_declares_its_permissions():
    from dashboard.views import backorders, products, transfers

    actions = [
        backorders.change_priority,
        backorders.cancel,
        backorders.send_update,
        backorders.bulk,
        products.draft_po,
        transfers.transfer_create,
        transfers.transfer_action,
    ]
    for view in actions:
        assert getattr(view, "required_permissions", None), view.__name__


def test_a_dashboard_action_that_declares_no_permission_is_refused_to_staff(rf, bare_staff_user):
    from dashboard.urls import staff_only

    @staff_only
    def undeclared(request):
        raise AssertionError("must not run")

    request = rf.post("/x/")
    request.user = bare_staff_user
    with pytest.raises(PermissionDenied):
        undeclared(request)


# --- the admin --------------------------------------------------------------------------------


def test_admin_action_needs_its_custom_permission(world, client, django_user_model):
    """Customer service may see orders in the admin but not ship them; the warehouse lead may."""
    order = Order.objects.get(number=world["order"])
    url = "/admin/orders/order/"
    form = {"action": "ship_selected", "_selected_action": [order.pk]}

    client.force_login(_user(django_user_model, "Customer service"))
    assert client.get(url).status_code == 200
    before = snapshot()
    client.post(url, form)
    assert snapshot() == before

    lead = django_user_model.objects.create_user("lead", "lead@example.com", "pw", is_staff=True)
    lead.groups.add(role_group("Warehouse lead"))
    client.force_login(lead)
    client.post(url, form)
    order.refresh_from_db()
    assert order.status == "shipped"


def test_admin_stock_adjustment_needs_adjust_stock(world, client, django_user_model):
    from inventory.models import StockItem

    item = StockItem.objects.get(product__sku="WIDGET")
    url = f"/admin/inventory/stockitem/{item.pk}/adjust/"
    client.force_login(_user(django_user_model, "Planner"))  # may view stock, may not adjust it
    before = snapshot()
    assert client.post(url, {"quantity": 5, "reason": "count", "reference": ""}).status_code == 403
    assert snapshot() == before


def test_admin_receipt_needs_receive_purchase_order(world, client, django_user_model):
    purchase_order = PurchaseOrder.objects.get(number=world["sent"])
    url = f"/admin/suppliers/purchaseorder/{purchase_order.pk}/receive/"
    client.force_login(_user(django_user_model, "Planner"))  # may change purchase orders, may not receive
    assert client.get(url).status_code == 403


# --- the roles --------------------------------------------------------------------------------


def _groups_in_db() -> dict[str, set[str]]:
    groups: dict[str, set[str]] = {}
    for group in Group.objects.prefetch_related("permissions__content_type"):
        groups[group.name] = {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.all()}
    return groups


def test_the_migration_created_the_role_groups_of_the_table(db):
    groups = _groups_in_db()
    for role in ROLES:
        assert groups[role] == role_permissions(role), role
    assert "inventory.adjust_stock" in groups[ADMIN] and "suppliers.delete_supplier" in groups[ADMIN]


@pytest.mark.postgres  # runs a migration inside the test's transaction: SQLite's schema editor cannot
def test_running_the_migration_again_changes_nothing_and_repairs_drift(db):
    from django.db.migrations.executor import MigrationExecutor

    migration = MigrationExecutor(connection).loader.get_migration("core", "0001_roles")
    historical = MigrationExecutor(connection).loader.project_state(("core", "0001_roles")).apps
    Group.objects.get(name="Planner").permissions.clear()
    before_count = Group.objects.count()
    with connection.schema_editor() as schema_editor:
        migration.operations[0].code(historical, schema_editor)
        migration.operations[0].code(historical, schema_editor)
    roles_sync()
    assert Group.objects.count() == before_count
    assert _groups_in_db()["Planner"] == role_permissions("Planner")


def test_the_documented_table_matches_the_roles():
    """docs/security.md "Staff roles": each role's row lists exactly its permissions beyond viewing."""
    text = Path(__file__).resolve().parents[2].joinpath("docs", "security.md").read_text()
    section = text.split("## Staff roles", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("|") and cells[0].strip("*") in ROLES:
            rows[cells[0].strip("*")] = set(re.findall(r"`([a-z_]+\.[a-z_]+)`", line))
    assert set(rows) == set(ROLES)
    for role, listed in rows.items():
        if ROLES[role] is None:
            continue
        acts = {p for p in role_permissions(role) if ".view_" not in p}
        assert listed == acts, role
