"""Random sequences of everything staff and storefronts do, with the integrity checks after every step.

A hypothesis state machine places orders (partial and ship-complete, every priority), cancels whole orders and
single lines, ships, adjusts stock both ways, sends purchase orders and receives them in parts, moves their dates
and cancels them, raises priorities, reallocates, switches waiting units to a substitute and changes the
allocation policy — through the services, with the
allocation and ETA tasks running as they do after each commit. After every step: ``check_integrity`` finds
nothing (on hand = ledger, reserved = allocations, backordered = waiting, every order's status = its lines), no
backorder holds more than it needs, and no stock is oversold. A business refusal (a DomainError) is a fine
outcome for a step; any other exception fails the run.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from itertools import count

import pytest
from django.db.models import F
from django.utils import timezone
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from backorders.models import PRIORITY_RANKS, AllocationPolicy, Backorder
from backorders.services import backorder_priority_change, backorder_reallocate, policy_activate
from backorders.substitutes import backorder_accept_substitute
from core.errors import DomainError
from fulfilment.integrity import integrity_problems
from fulfilment.services import CancelRequest, LineRequest, order_cancel, order_place, order_ship
from inventory.models import Product, StockItem
from inventory.services import product_create, stock_adjust, warehouse_create
from orders.models import Order
from orders.services import CustomerData
from suppliers import services as supplier_services
from suppliers.models import PurchaseOrder
from tests.suppliers.factories import SupplierFactory, SupplierProductFactory

pytestmark = pytest.mark.django_db(transaction=True)  # commits run the after-commit tasks, as in production

_runs = count()
CUSTOMERS = [("c-gold", "gold"), ("c-std", "standard"), ("c-plat", "platinum"), ("c-silver", "silver")]


class OrderLifecycle(RuleBasedStateMachine):
    @initialize()
    def catalogue(self):
        # Every example starts alike (hypothesis replays examples to shrink them): its own products, customers and
        # purchase orders, and the default allocation policy.
        run = next(_runs)
        self.run = run
        self.purchase_orders: list[int] = []
        AllocationPolicy.objects.filter(is_active=True).update(is_active=False)
        policy_activate(policy=AllocationPolicy.objects.get_or_create(name="Default")[0])
        self.skus = [f"R{run}-{n}" for n in range(3)]
        self.substitute = f"R{run}-SUB"
        if not StockItem.objects.exists():
            warehouse_create(code="MAIN", name="Main")
            warehouse_create(code="EAST", name="East")
            SupplierFactory(code="acme")
        for sku in [*self.skus, self.substitute]:
            product = product_create(sku=sku, name=sku, unit_price=Decimal("10.00"))
            SupplierProductFactory(supplier__code=f"sup-{sku}", product=product, lead_time_days=7)
        stock_adjust(sku=self.skus[0], warehouse_code="MAIN", quantity=4, reason="opening count")
        stock_adjust(sku=self.substitute, warehouse_code="EAST", quantity=20, reason="opening count")
        self.products = {p.sku: p for p in Product.objects.filter(sku__in=[*self.skus, self.substitute])}
        for sku in self.skus:
            self.products[sku].substitutes.add(self.products[self.substitute])
        self.orders: list[int] = []

    # --- what storefronts and staff do --------------------------------------------------------------------------

    @rule(
        lines=st.dictionaries(st.integers(0, 2), st.integers(1, 4), min_size=1, max_size=3),
        policy=st.sampled_from(["partial", "complete"]),
        priority=st.sampled_from(["low", "normal", "high", "critical"]),
        who=st.sampled_from(CUSTOMERS),
    )
    def place(self, lines, policy, priority, who):
        name, tier = who
        external_id = f"{name}-{self.run}"
        result = order_place(
            customer=CustomerData(external_id, f"{external_id}@example.com", external_id, tier),
            lines=[LineRequest(self.skus[i], q) for i, q in lines.items()],
            ship_policy=policy,
            priority=priority,
        )
        self.orders.append(result.order.pk)

    @precondition(lambda self: self.orders)
    @rule(pick=st.integers(0, 10**6), whole=st.booleans(), data=st.data())
    def cancel(self, pick, whole, data):
        order = self._order(pick)
        lines = None
        if not whole:
            line = order.lines.select_related("product").first()
            quantity = data.draw(st.none() | st.integers(1, 4))
            lines = [CancelRequest(sku=line.product.sku, quantity=quantity)]
        self._refusable(lambda: order_cancel(order=order, lines=lines, reason="state machine"))

    @precondition(lambda self: self.orders)
    @rule(pick=st.integers(0, 10**6))
    def ship(self, pick):
        self._refusable(lambda: order_ship(order=self._order(pick)))

    @rule(sku=st.integers(0, 2), quantity=st.integers(-3, 8).filter(bool), warehouse=st.sampled_from(["MAIN", "EAST"]))
    def adjust(self, sku, quantity, warehouse):
        self._refusable(
            lambda: stock_adjust(sku=self.skus[sku], warehouse_code=warehouse, quantity=quantity, reason="recount")
        )

    @rule(sku=st.integers(0, 2), ordered=st.integers(1, 8), first=st.integers(0, 8))
    def purchase_and_receive(self, sku, ordered, first):
        """A purchase order is sent; ``first`` units of it arrive at once (0: none yet)."""
        po = supplier_services.purchase_order_create(
            supplier_code="acme",
            warehouse_code="MAIN",
            expected_date=timezone.localdate() + timedelta(days=5),
            lines=[supplier_services.PurchaseOrderLineRequest(self.skus[sku], ordered)],
            send=True,
        )
        self.purchase_orders.append(po.pk)
        if not first:
            return
        receive = supplier_services.ReceiptLineRequest
        self._refusable(
            lambda: supplier_services.purchase_order_receive(purchase_order=po, lines=[receive(self.skus[sku], first)])
        )

    @precondition(lambda self: self._partly_received().exists())
    @rule(quantity=st.integers(1, 8))
    def receive_the_rest(self, quantity):
        po = self._partly_received().first()
        line = po.lines.select_related("product").get()
        request = supplier_services.ReceiptLineRequest(line.product.sku, quantity)
        self._refusable(lambda: supplier_services.purchase_order_receive(purchase_order=po, lines=[request]))

    @precondition(lambda self: self._open_purchase_orders().exists())
    @rule(pick=st.integers(0, 10**6), days=st.integers(-3, 20))
    def revise_a_date(self, pick, days):
        po = self._pick_open_purchase_order(pick)
        new_date = timezone.localdate() + timedelta(days=days)
        self._refusable(
            lambda: supplier_services.purchase_order_revise_dates(
                purchase_order=po, reason="supplier says so", expected_date=new_date
            )
        )

    @precondition(lambda self: self._open_purchase_orders().exists())
    @rule(pick=st.integers(0, 10**6))
    def cancel_a_purchase_order(self, pick):
        po = self._pick_open_purchase_order(pick)
        self._refusable(lambda: supplier_services.purchase_order_cancel(purchase_order=po, reason="supplier gone"))

    @precondition(lambda self: self._waiting().exists())
    @rule(pick=st.integers(0, 10**6), priority=st.sampled_from(list(PRIORITY_RANKS)))
    def raise_priority(self, pick, priority):
        backorder = self._pick_waiting(pick)
        self._refusable(lambda: backorder_priority_change(backorder=backorder, priority=priority, reason="urgent"))

    @precondition(lambda self: self._waiting().exists())
    @rule(pick=st.integers(0, 10**6))
    def reallocate(self, pick):
        self._refusable(lambda: backorder_reallocate(backorder=self._pick_waiting(pick), reason="hospital"))

    @precondition(lambda self: self._waiting().exists())
    @rule(pick=st.integers(0, 10**6))
    def take_the_substitute(self, pick):
        backorder = self._pick_waiting(pick)
        self._refusable(lambda: backorder_accept_substitute(backorder=backorder, sku=self.substitute))

    @rule(gold_first=st.booleans())
    def change_policy(self, gold_first):
        name = "gold first" if gold_first else "first come, first served"
        weights = (
            {"gold_weight": Decimal("50"), "platinum_weight": Decimal("60")}
            if gold_first
            else {f"{tier}_weight": Decimal("0") for tier in ("standard", "silver", "gold", "platinum")}
            | {"lifetime_value_weight": Decimal("0")}
        )
        policy, _ = AllocationPolicy.objects.get_or_create(name=name, defaults=weights)
        policy_activate(policy=policy)

    # --- what must hold after every step ------------------------------------------------------------------------

    @invariant()
    def books_balance(self):
        assert integrity_problems() == []

    @invariant()
    def nobody_gets_more_than_needed(self):
        assert not Backorder.objects.filter(quantity_allocated__gt=F("quantity") - F("quantity_cancelled")).exists()
        assert not StockItem.objects.filter(allocated__gt=F("on_hand")).exists()

    @invariant()
    def etas_are_current(self):
        """Every event that moves an ETA asked for a recompute after its commit: a fresh one changes nothing."""
        from backorders.eta import eta_recompute_product

        for sku in self.skus:
            assert eta_recompute_product(product_id=self.products[sku].pk) == 0, f"stale ETAs of {sku}"

    # --- helpers --------------------------------------------------------------------------------------------------

    def _order(self, pick) -> Order:
        return Order.objects.get(pk=self.orders[pick % len(self.orders)])

    def _partly_received(self):
        return PurchaseOrder.objects.filter(pk__in=self.purchase_orders, status="partially_received").order_by("pk")

    def _open_purchase_orders(self):
        return PurchaseOrder.objects.filter(
            pk__in=self.purchase_orders, status__in=["sent", "partially_received"]
        ).order_by("pk")

    def _pick_open_purchase_order(self, pick) -> PurchaseOrder:
        open_orders = list(self._open_purchase_orders())
        return open_orders[pick % len(open_orders)]

    def _waiting(self):
        return Backorder.objects.filter(product__sku__in=self.skus, status__in=Backorder.WAITING).order_by("pk")

    def _pick_waiting(self, pick) -> Backorder:
        waiting = list(self._waiting())
        return waiting[pick % len(waiting)]

    @staticmethod
    def _refusable(step):
        """Run a step; a business refusal (nothing to ship, over-receipt, order closed...) is a fine outcome."""
        try:
            step()
        except DomainError as refusal:
            event(f"refused: {refusal.code}")
        else:
            event("done")


OrderLifecycle.TestCase.settings = settings(
    max_examples=12,
    stateful_step_count=15,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)
test_order_lifecycle = OrderLifecycle.TestCase
