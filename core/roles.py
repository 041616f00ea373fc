"""Staff roles: Django groups holding the permissions each job needs.

This table is the one source of truth; docs/security.md ("Staff roles") shows it to people, and a test checks that
the groups in the database match it. The groups are written by ``core/migrations/0001_roles.py``. When the table
changes, add a migration that calls ``roles_sync`` again (depending on the latest migration of every app in
``OMS_APPS``), so every database gets the new permissions.

Reads stay open to every active staff user (the API and dashboard check only ``is_staff`` for GET); the ``view_``
permissions below are what the admin asks for.
"""

from __future__ import annotations

from django.apps import apps as global_apps

OMS_APPS = ("inventory", "orders", "backorders", "suppliers", "notifications", "exchange")

CUSTOMER_SERVICE = "Customer service"
PLANNER = "Planner"
WAREHOUSE_LEAD = "Warehouse lead"
ADMIN = "Admin"


def _view(*models: str) -> tuple[str, ...]:
    """``"orders.order"`` → ``"orders.view_order"``."""
    return tuple(f"{label}.view_{model}" for label, model in (name.split(".") for name in models))


ROLES: dict[str, tuple[str, ...] | None] = {
    CUSTOMER_SERVICE: (
        *_view("inventory.product", "inventory.stockitem", "orders.customer", "orders.order", "orders.orderline"),
        *_view("orders.shipment", "backorders.backorder", "backorders.backorderevent"),
        *_view("inventory.lot"),  # a recall: who got units of a lot
        *_view("notifications.notification", "notifications.notificationpreference", "notifications.incentive"),
        *_view("notifications.notificationattempt", "notifications.webhookendpointhealth"),
        *_view("notifications.webhookendpoint"),
        "orders.add_order",
        "orders.cancel_order",
        "orders.change_customer",
        *_view("orders.customerterms"),
        "orders.add_customerterms",
        "orders.change_customerterms",
        "backorders.change_priority",
        "backorders.cancel_backorder",
        "backorders.accept_substitute",
        "notifications.send_update",
        "notifications.retry_notification",
        "notifications.add_notificationpreference",
        "notifications.change_notificationpreference",
        # Imports (docs/import.md): each kind also needs the permissions of what it writes.
        *_view("exchange.importjob"),
        "exchange.add_importjob",
    ),
    PLANNER: (
        *_view("inventory.product", "inventory.warehouse", "inventory.stockitem", "inventory.stockmovement"),
        *_view("inventory.lot"),
        *_view("orders.order", "orders.orderline", "backorders.backorder", "backorders.backorderevent"),
        *_view("backorders.allocationpolicy", "backorders.allocationrun"),
        *_view("suppliers.supplier", "suppliers.supplierproduct", "suppliers.purchaseorder"),
        *_view("suppliers.purchaseorderline", "suppliers.expecteddaterevision", "suppliers.receipt"),
        *_view("suppliers.receiptline"),
        "inventory.add_product",
        "inventory.change_product",
        "backorders.reallocate",
        "backorders.add_allocationpolicy",
        "backorders.change_allocationpolicy",
        "backorders.change_allocationrun",
        "suppliers.add_supplier",
        "suppliers.change_supplier",
        "suppliers.add_supplierproduct",
        "suppliers.change_supplierproduct",
        "suppliers.add_purchaseorder",
        "suppliers.change_purchaseorder",
        *_view("inventory.transfer", "inventory.transferline"),
        "inventory.add_transfer",  # planning suggests a transfer before a purchase order: docs/warehouses.md
        *_view("exchange.importjob", "exchange.inboundevent"),
        "exchange.add_importjob",
    ),
    WAREHOUSE_LEAD: (
        *_view("inventory.product", "inventory.warehouse", "inventory.stockitem", "inventory.stockmovement"),
        *_view("orders.order", "orders.orderline", "orders.allocation", "orders.shipment", "orders.shipmentline"),
        *_view("backorders.backorder", "suppliers.supplier", "suppliers.purchaseorder", "suppliers.purchaseorderline"),
        *_view("suppliers.receipt", "suppliers.receiptline"),
        "inventory.adjust_stock",
        *_view("inventory.lot", "orders.lotallocation"),
        "inventory.hold_lot",  # quality decides a recall: docs/lots.md
        "inventory.add_warehouse",
        "inventory.change_warehouse",
        *_view("inventory.transfer", "inventory.transferline"),
        "inventory.add_transfer",
        "inventory.ship_transfer",
        "inventory.receive_transfer",
        "inventory.cancel_transfer",
        "orders.ship_order",
        "suppliers.receive_purchase_order",
        *_view("exchange.importjob", "exchange.inboundevent"),
        "exchange.add_importjob",
    ),
    # None: every permission of every model in OMS_APPS (model and custom ones), whatever is added later.
    # User accounts and groups stay with superusers.
    ADMIN: None,
}


def _labels(apps) -> tuple[str, ...]:
    """The apps of ``OMS_APPS`` that ``apps`` knows: an early migration's historical registry does not have the apps
    added later yet (their own migration syncs the roles again, with them)."""
    known = []
    for label in OMS_APPS:
        try:
            apps.get_app_config(label)
        except LookupError:
            continue
        known.append(label)
    return tuple(known)


def role_permissions(role: str, apps=global_apps) -> set[str]:
    """The ``app_label.codename`` permissions of a role, as the models of ``apps`` define them."""
    permissions = ROLES[role]
    if permissions is not None:
        labels = _labels(apps)
        return {name for name in permissions if name.split(".", 1)[0] in labels}
    everything: set[str] = set()
    for label in _labels(apps):
        for model in apps.get_app_config(label).get_models():
            opts = model._meta
            everything |= {f"{label}.{action}_{opts.model_name}" for action in opts.default_permissions}
            everything |= {f"{label}.{codename}" for codename, _ in opts.permissions}
    return everything


def roles_sync(apps=global_apps) -> None:
    """Create the role groups and give each exactly the permissions of the table. Idempotent.

    ``apps`` is a migration's historical registry, or the live one. The permissions must exist already
    (``create_permissions``); a name in the table that matches none is an error, not a silent gap.
    """
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    existing = {
        f"{permission.content_type.app_label}.{permission.codename}": permission
        for permission in Permission.objects.filter(content_type__app_label__in=_labels(apps)).select_related(
            "content_type"
        )
    }
    for role in ROLES:
        wanted = role_permissions(role, apps)
        missing = sorted(wanted - existing.keys())
        if missing:
            raise LookupError(f"Role {role!r} names permissions that do not exist: {', '.join(missing)}")
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.set([existing[name] for name in sorted(wanted)])
