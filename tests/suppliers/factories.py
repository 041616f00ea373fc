from datetime import timedelta
from decimal import Decimal

import factory
from django.utils import timezone

from suppliers.models import PurchaseOrder, PurchaseOrderLine, Supplier, SupplierProduct
from tests.inventory.factories import ProductFactory, WarehouseFactory


class SupplierFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Supplier
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"sup-{n}")
    name = factory.LazyAttribute(lambda o: f"Supplier {o.code}")
    email = factory.LazyAttribute(lambda o: f"{o.code}@example.com")


class SupplierProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SupplierProduct

    supplier = factory.SubFactory(SupplierFactory)
    product = factory.SubFactory(ProductFactory)
    lead_time_days = 14
    min_order_quantity = 1
    pack_size = 1
    unit_cost = Decimal("5.00")
    preferred = True


class PurchaseOrderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PurchaseOrder

    number = factory.Sequence(lambda n: f"PO-T-{n:05d}")
    supplier = factory.SubFactory(SupplierFactory)
    warehouse = factory.SubFactory(WarehouseFactory, code="MAIN")
    status = PurchaseOrder.Status.SENT
    order_date = factory.LazyFunction(timezone.localdate)
    expected_date = factory.LazyFunction(lambda: timezone.localdate() + timedelta(days=10))


class PurchaseOrderLineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PurchaseOrderLine

    purchase_order = factory.SubFactory(PurchaseOrderFactory)
    product = factory.SubFactory(ProductFactory)
    quantity_ordered = 10
    expected_date = factory.LazyAttribute(lambda o: o.purchase_order.expected_date)
    original_expected_date = factory.LazyAttribute(lambda o: o.expected_date)
