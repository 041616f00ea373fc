"""Imports racing live orders on PostgreSQL (real threads): stock counts and go-live orders never oversell, never
deadlock; and an import job run by a real Celery worker."""

import random

import pytest
from django.db.models import Sum

from core.errors import DomainError
from exchange.imports import import_job_create, import_run
from exchange.models import ImportJob
from fulfilment.integrity import integrity_problems
from fulfilment.services import LineRequest, order_place
from inventory.models import Product, StockItem
from orders.models import OrderLine
from orders.services import CustomerData
from tests.threads import run_threads


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_stock_count_imports_racing_live_orders_never_oversell(make_product):
    products = [make_product(stock=12, sku=f"RACE-{i}", backorderable=(i % 2 == 0)) for i in range(4)]
    skus = [p.sku for p in products]
    refusals: list[str] = []

    def work(index):
        rng = random.Random(index)
        for n in range(6):
            if index < 2:  # two importers: whole-file stock counts, both modes
                rows = "".join(f"{sku},MAIN,{rng.randint(0, 15)}\n" for sku in rng.sample(skus, 3))
                result = import_run(
                    kind="stock_counts",
                    content=f"sku,warehouse,counted\n{rows}".encode(),
                    file_format="csv",
                    partial=bool(n % 2),
                )
                refusals.extend(e.code for e in result.errors)
            else:  # live orders over the same SKUs, several lines each, in any order
                lines = [LineRequest(sku, rng.randint(1, 3)) for sku in rng.sample(skus, 2)]
                try:
                    order_place(customer=CustomerData(f"c{index}", f"c{index}@x.test", "C"), lines=lines)
                except DomainError as exc:  # not_backorderable: a refusal, never a failure
                    refusals.append(exc.code)

    assert run_threads(6, work) == []
    assert set(refusals) <= {"count_below_allocated", "not_backorderable"}
    for product in Product.objects.filter(sku__in=skus):
        item = StockItem.objects.get(product=product)
        allocated = OrderLine.objects.filter(product=product).aggregate(units=Sum("quantity_allocated"))["units"] or 0
        assert 0 <= item.allocated == allocated <= item.on_hand
    assert integrity_problems() == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_open_orders_import_racing_live_orders_never_oversells(make_product):
    make_product(stock=10, sku="GO-1", backorderable=False)
    make_product(stock=10, sku="GO-2")
    rows = "".join(f"ERP-{i},cus-{i},c{i}@x.test,C{i},GO-{1 + i % 2},2\n" for i in range(12))
    content = f"external_reference,customer_external_id,customer_email,customer_name,sku,quantity\n{rows}".encode()
    outcome = {}

    def work(index):
        if index == 0:
            outcome["import"] = import_run(kind="open_orders", content=content, file_format="csv", partial=True)
            return
        for _n in range(3):
            try:
                order_place(
                    customer=CustomerData(f"live{index}", "l@x.test", "L"),
                    lines=[LineRequest("GO-1", 1), LineRequest("GO-2", 1)],
                )
            except DomainError as exc:
                assert exc.code == "not_backorderable"

    assert run_threads(4, work) == []
    result = outcome["import"]
    assert {e.code for e in result.errors} <= {"not_backorderable"}
    go1 = StockItem.objects.get(product__sku="GO-1")
    assert go1.allocated <= go1.on_hand == 10
    assert integrity_problems() == []


@pytest.mark.worker
@pytest.mark.postgres
def test_an_import_job_runs_on_a_real_worker(celery_worker_run, django_user_model):
    user = django_user_model.objects.create_superuser("boss", "boss@x.test", "x")
    with celery_worker_run():
        job = import_job_create(
            kind="products", content=b"sku,name,unit_price\nW-1,Worker,1\nW-2,Worker,2\n", file_format="csv", user=user
        )
        import time

        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            job.refresh_from_db()
            if job.is_finished:
                break
            time.sleep(0.1)
    assert (job.status, job.created, job.rows_done, job.rows_total) == (ImportJob.Status.SUCCEEDED, 2, 2, 2)
    assert Product.objects.filter(sku__startswith="W-").count() == 2
