"""Demo data for a first look: products, stock, suppliers with open purchase orders, customers of
every tier, orders (in stock, partial and complete backorders, shipped, cancelled) and a staff login.

`seed_demo --orders N --backorders M` instead generates a large synthetic data set for benchmarks.
"""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from dashboard.devrun import DEMO_ADMIN, DEMO_CHANNEL, demo_api_key_remember

PRODUCTS = [
    # sku, name, price, stock, backorderable, status
    ("CHAIR-ERGO", "Ergonomic office chair", "249.00", 6, True, "active"),
    ("CHAIR-BASIC", "Basic office chair", "99.00", 40, True, "active"),
    ("DESK-STAND", "Standing desk 160×80", "599.00", 2, True, "active"),
    ("DESK-FIXED", "Fixed desk 140×70", "279.00", 15, True, "active"),
    ("MON-27-4K", '27" 4K monitor', "389.00", 0, True, "active"),
    ("MON-27-QHD", '27" QHD monitor', "279.00", 12, True, "active"),
    ("ARM-DUAL", "Dual monitor arm", "129.00", 3, True, "active"),
    ("KB-MECH", "Mechanical keyboard", "119.00", 0, True, "active"),
    ("KB-SLIM", "Slim keyboard", "59.00", 60, True, "active"),
    ("MOUSE-ERGO", "Ergonomic mouse", "79.00", 4, True, "active"),
    ("LAMP-LED", "LED desk lamp", "49.00", 25, True, "active"),
    ("DOCK-USB-C", "USB-C docking station", "219.00", 1, True, "active"),
    ("HEADSET-NC", "Noise-cancelling headset", "199.00", 0, True, "active"),
    ("CABLE-HDMI", "HDMI cable 2 m", "12.00", 300, True, "active"),
    ("WEBCAM-HD", "HD webcam", "89.00", 0, False, "active"),  # not backorderable: out of stock
    ("FAX-900", "Fax machine 900", "149.00", 3, False, "discontinued"),
]
SUBSTITUTES = [
    ("MON-27-4K", "MON-27-QHD"),
    ("KB-MECH", "KB-SLIM"),
    ("CHAIR-ERGO", "CHAIR-BASIC"),
    ("DESK-STAND", "DESK-FIXED"),
]
SUPPLIERS = [
    ("nordic-furniture", "Nordic Furniture AB", "orders@nordic-furniture.example", 21),
    ("pixel-displays", "Pixel Displays Ltd", "supply@pixel-displays.example", 14),
    ("keytronic", "Keytronic GmbH", "sales@keytronic.example", 10),
]
SUPPLIED = {
    "nordic-furniture": ["CHAIR-ERGO", "CHAIR-BASIC", "DESK-STAND", "DESK-FIXED", "LAMP-LED"],
    "pixel-displays": ["MON-27-4K", "MON-27-QHD", "ARM-DUAL", "DOCK-USB-C", "WEBCAM-HD"],
    "keytronic": ["KB-MECH", "KB-SLIM", "MOUSE-ERGO", "HEADSET-NC", "CABLE-HDMI"],
}
CUSTOMERS = [
    ("acme-hq", "procurement@acme.example", "ACME Corp", "platinum", "250000"),
    ("st-marys", "supplies@stmarys-hospital.example", "St Mary's Hospital", "gold", "90000"),
    ("jane-doe", "jane@example.com", "Jane Doe", "silver", "2400"),
    ("john-roe", "john@example.com", "John Roe", "standard", "300"),
    ("ana-lima", "ana@example.com", "Ana Lima", "standard", "120"),
    ("globex", "buyer@globex.example", "Globex Ltd", "gold", "45000"),
]


class Command(BaseCommand):
    help = "Load demo data (or, with --orders, a large synthetic data set for benchmarks)."

    def add_arguments(self, parser):
        parser.add_argument("--if-empty", action="store_true", help="Do nothing if products already exist.")
        parser.add_argument("--orders", type=int, default=0, help="Generate this many synthetic orders.")
        parser.add_argument("--backorders", type=int, default=None, help="…of which this many are backordered.")
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument(
            "--with-demo-login",
            action="store_true",
            help="Create the admin/admin staff login even with DEBUG off (never on a reachable server).",
        )

    def handle(self, *args, if_empty, orders, backorders, seed, with_demo_login=False, **options):
        from inventory.models import Product

        if orders:
            from dashboard.demo_bulk import BulkGenerationError, bulk_generate

            try:
                bulk_generate(
                    orders=orders,
                    backorders=backorders if backorders is not None else orders // 5,
                    stdout=self.stdout,
                )
            except BulkGenerationError as exc:
                raise CommandError(str(exc)) from exc
            return
        # The demo login is public: only in development mode, or when asked for by name.
        demo_login = settings.DEBUG or with_demo_login
        if demo_login:
            if not settings.DEBUG:
                self.stderr.write(self.style.WARNING("WARNING: creating the public demo login admin/admin."))
            self._ensure_admin()
        if if_empty and Product.objects.exists():
            self.stdout.write("Data already present: demo data not loaded again.")
        else:
            self._load(random.Random(seed))
        if demo_login:
            self._print_login()
        else:
            self.stdout.write("No demo login created (DEBUG is off): use `manage.py createsuperuser`.")

    def _ensure_admin(self):
        User = get_user_model()
        if not User.objects.filter(username=DEMO_ADMIN[0]).exists():
            User.objects.create_superuser(DEMO_ADMIN[0], "admin@example.com", DEMO_ADMIN[1])

    def _print_login(self):
        # The URL is not known here (`make run` may serve on another port): `serve_demo` prints it with the rest.
        self.stdout.write(self.style.SUCCESS(f"Staff login: username '{DEMO_ADMIN[0]}', password '{DEMO_ADMIN[1]}'"))

    def _load(self, rng: random.Random):
        from backorders.services import allocation_request_for_products
        from fulfilment.services import CancelRequest, LineRequest, order_cancel, order_place, order_ship
        from inventory.models import Product
        from inventory.services import product_create, stock_adjust, warehouse_create
        from orders.services import CustomerData, api_key_create

        with transaction.atomic():
            # Two warehouses (docs/warehouses.md): MAIN serves first, EAST holds a third of some products' stock.
            warehouse_create(code="MAIN", name="Main warehouse", priority=1)
            warehouse_create(code="EAST", name="East depot", priority=2)
            products = {}
            for index, (sku, name, price, stock, backorderable, status) in enumerate(PRODUCTS):
                products[sku] = product_create(
                    sku=sku, name=name, unit_price=Decimal(price), status=status, backorderable=backorderable
                )
                if stock:
                    stock_adjust(sku=sku, warehouse_code="MAIN", quantity=stock, reason="Opening stock count")
                    if index % 3 == 0:
                        stock_adjust(
                            sku=sku, warehouse_code="EAST", quantity=max(1, stock // 3), reason="Opening stock count"
                        )
            for a, b in SUBSTITUTES:
                products[a].substitutes.add(products[b])
            self._suppliers(products, rng)

        _, web_key = api_key_create(channel_code=DEMO_CHANNEL, name="demo", channel_name="Web shop")
        if settings.DEBUG:
            demo_api_key_remember(web_key)  # for the banner of every later `make run`
        from inventory.models import Warehouse

        b2b, _ = api_key_create(channel_code="b2b-portal", name="demo", channel_name="B2B portal")
        b2b.channel.warehouses.set(Warehouse.objects.filter(code="EAST"))  # the B2B portal ships from EAST only

        from orders.models import Customer
        from orders.services import customer_upsert

        customers = [CustomerData(ext, email, name, tier) for ext, email, name, tier, _ in CUSTOMERS]
        for data, (*_, ltv) in zip(customers, CUSTOMERS, strict=True):
            Customer.objects.filter(pk=customer_upsert(data=data).pk).update(lifetime_value=Decimal(ltv))
        skus = [p[0] for p in PRODUCTS if p[4]]
        self._history(rng, customers, skus)
        placed = []
        for i in range(40):
            customer = customers[i % len(customers)] if i % 7 else customers[rng.randrange(len(customers))]
            lines = {sku: rng.randint(1, 4) for sku in rng.sample(skus, rng.randint(1, 3))}
            result = order_place(
                customer=customer,
                lines=[LineRequest(sku, q) for sku, q in lines.items()],
                ship_policy="complete" if i % 5 == 0 else "partial",
                priority="critical" if customer.external_id == "st-marys" and i % 3 == 0 else "normal",
            )
            placed.append(result.order)
        # Some history: a few orders shipped, one cancelled.
        for order in placed[:12]:
            order.refresh_from_db()
            if order.status == "open":
                order_ship(order=order)
        for order in placed[12:14]:
            order.refresh_from_db()
            if order.status in ("open", "backordered"):
                first = order.lines.select_related("product").first()
                order_cancel(order=order, lines=[CancelRequest(sku=first.product.sku)], reason="Customer request")
        self._perishables(customers)
        self._receive_some()
        self._transfer_some()
        allocation_request_for_products(product_ids=Product.objects.values_list("pk", flat=True))
        self._spread_over_weeks(placed, rng)
        self._refresh_etas()
        self.stdout.write(f"Demo data loaded: {len(PRODUCTS)} products, {len(placed)} orders.")
        self.stdout.write(f"Demo API key for channel 'web-shop' (Authorization: Api-Key …):\n{web_key}")

    def _suppliers(self, products, rng):
        """Suppliers, their catalogue and open purchase orders, through the suppliers services."""
        from suppliers.services import (
            PurchaseOrderLineRequest,
            purchase_order_create,
            supplier_create,
            supplier_product_upsert,
        )

        today = timezone.localdate()
        for n, (code, name, email, lead) in enumerate(SUPPLIERS, start=1):
            supplier_create(code=code, name=name, email=email)
            for sku in SUPPLIED[code]:
                supplier_product_upsert(
                    supplier_code=code,
                    sku=sku,
                    supplier_sku=f"{code[:3].upper()}-{sku}",
                    lead_time_days=lead,
                    min_order_quantity=10 if sku.startswith("CABLE") else 2,
                    pack_size=5 if sku.startswith("CABLE") else 1,
                    unit_cost=(products[sku].unit_price * Decimal("0.55")).quantize(Decimal("0.01")),
                    preferred=True,
                )
            purchase_order_create(
                supplier_code=code,
                warehouse_code="MAIN",
                expected_date=today + timedelta(days=3 + 4 * n),
                lines=[PurchaseOrderLineRequest(sku, rng.choice([4, 6, 10])) for sku in SUPPLIED[code][:3]],
                notes="Demo replenishment",
                send=True,
            )

    def _perishables(self, customers):
        """A lot-tracked perishable (docs/lots.md): lots in both warehouses, one already too short-dated to ship
        (the daily task quarantines it), and orders served first-expiry-first from the others."""
        from fulfilment.services import LineRequest, order_place, order_ship
        from inventory.lots import LotInput
        from inventory.services import product_create, stock_adjust

        today = timezone.localdate()
        product_create(
            sku="DEMO-YOGURT",
            name="Greek yogurt 500 g (perishable)",
            unit_price=Decimal("3.20"),
            tracking="lot",
            min_shelf_life_days=21,
        )
        for warehouse, lots in (
            ("MAIN", [("Y-2611-A", 6, 10), ("Y-2611-B", 20, 45), ("Y-2612-A", 15, 90)]),
            ("EAST", [("Y-2611-E", 8, 60)]),
        ):
            stock_adjust(
                sku="DEMO-YOGURT",
                warehouse_code=warehouse,
                quantity=sum(q for _, q, _ in lots),
                reason="Demo receipt",
                lots=[LotInput(n, q, today + timedelta(days=d)) for n, q, d in lots],
            )
        placed = [
            order_place(customer=customers[i % len(customers)], lines=[LineRequest("DEMO-YOGURT", q)]).order
            for i, q in enumerate((5, 12, 30))
        ]
        order_ship(order=placed[0])

    def _history(self, rng: random.Random, customers, skus):
        """Eight weeks of past orders, delivered in full: the demand the planning page forecasts from.

        The units they took are counted in first (as past deliveries), so today's stock is as listed above."""
        from collections import Counter

        from fulfilment.services import LineRequest, order_place, order_ship
        from inventory.services import stock_adjust
        from orders.models import Order

        plan = [(rng.randint(1, 56), rng.choice(skus), rng.randint(1, 3)) for _ in range(160)]
        needed = Counter()
        for _, sku, units in plan:
            needed[sku] += units
        for sku, units in sorted(needed.items()):
            stock_adjust(sku=sku, warehouse_code="MAIN", quantity=units, reason="Past deliveries (demo history)")
        now = timezone.now()
        for days_ago, sku, units in plan:
            customer = customers[rng.randrange(len(customers))]
            order = order_place(customer=customer, lines=[LineRequest(sku, units)]).order
            order_ship(order=order)
            placed_at = now - timedelta(days=days_ago, hours=rng.randint(0, 9))
            Order.objects.filter(pk=order.pk).update(placed_at=placed_at)

    def _spread_over_weeks(self, placed, rng: random.Random):
        """The demo orders were placed over the last six weeks, oldest first (their queue order is unchanged), so
        the charts show a history and the waiting backorders fall in every aging bucket (0–7, 8–14, 15–30, >30
        days). A closed backorder closed some time between its creation and now."""
        from backorders.models import Backorder, BackorderEvent
        from notifications.models import Notification
        from orders.models import Order

        now = timezone.now()
        last = len(placed) - 1
        for i, order in enumerate(placed):
            placed_at = now - timedelta(days=45 * (last - i) / last, hours=rng.randint(0, 6))
            Order.objects.filter(pk=order.pk).update(placed_at=placed_at)
            backorders = Backorder.objects.filter(order=order)
            backorders.update(placed_at=placed_at, created_at=placed_at)
            BackorderEvent.objects.filter(backorder__order=order, kind=BackorderEvent.Kind.CREATED).update(
                created_at=placed_at
            )
            Notification.objects.filter(order=order, event=Notification.Event.BACKORDER_CREATED).update(
                created_at=placed_at
            )
            for backorder in backorders.exclude(status__in=Backorder.WAITING):
                closed_at = placed_at + (now - placed_at) * rng.uniform(0.2, 0.9)
                fields = {f: closed_at for f in ("allocated_at", "cancelled_at") if getattr(backorder, f)}
                if backorder.fulfilled_at:
                    fields["fulfilled_at"] = closed_at + (now - closed_at) * rng.uniform(0.1, 0.5)
                Backorder.objects.filter(pk=backorder.pk).update(**fields)

    def _receive_some(self):
        """Half of one purchase order arrives: the backorder queue gets it in priority order."""
        from suppliers.models import PurchaseOrder
        from suppliers.services import ReceiptLineRequest, purchase_order_receive

        po = PurchaseOrder.objects.filter(status=PurchaseOrder.Status.SENT).order_by("expected_date", "pk").first()
        if po is None:
            return
        lines = [
            ReceiptLineRequest(line.product.sku, max(1, line.quantity_ordered // 2))
            for line in po.lines.select_related("product")
        ]
        purchase_order_receive(purchase_order=po, lines=lines)

    def _transfer_some(self):
        """A transfer in transit from MAIN to EAST: units on their way are dated supply (docs/warehouses.md)."""
        from core.errors import DomainError
        from inventory.models import StockItem
        from inventory.transfers import TransferLineRequest, transfer_create, transfer_ship

        item = (
            StockItem.objects.filter(warehouse__code="MAIN", product__tracking="none", on_hand__gte=F("allocated") + 4)
            .select_related("product")
            .order_by("product__sku")
            .first()
        )
        if item is None:
            return
        try:
            transfer = transfer_create(
                source="MAIN",
                destination="EAST",
                lines=[TransferLineRequest(item.product.sku, 3)],
                expected_date=timezone.localdate() + timedelta(days=2),
                note="Rebalancing for the B2B portal (demo)",
            )
            transfer_ship(transfer=transfer)
        except DomainError:
            return

    def _refresh_etas(self):
        from backorders.eta import eta_recompute_all

        eta_recompute_all()
