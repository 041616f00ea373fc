"""The API's pagination reads a page's keys first, then those rows (core.pagination.DeferredJoinPaginator)."""

import pytest
from django.core.paginator import Paginator

from core.pagination import DeferredJoinPaginator
from inventory.models import Product

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("per_page,orphans", [(3, 0), (4, 0), (4, 2), (20, 0)])
def test_pages_hold_the_same_rows_in_the_same_order_as_plain_slicing(make_product, per_page, orphans):
    for n in range(11):
        make_product(sku=f"P-{n % 4}-{n:02d}")
    queryset = Product.objects.order_by("-sku")
    plain = Paginator(queryset, per_page, orphans=orphans)
    deferred = DeferredJoinPaginator(queryset, per_page, orphans=orphans)
    assert deferred.count == plain.count == 11
    assert deferred.num_pages == plain.num_pages
    for number in plain.page_range:
        assert list(deferred.page(number)) == list(plain.page(number))
        assert deferred.page(number).has_next() == plain.page(number).has_next()


def test_a_page_is_read_in_two_queries_whatever_its_size(make_product, django_assert_num_queries):
    for n in range(7):
        make_product(sku=f"Q-{n}")
    deferred = DeferredJoinPaginator(Product.objects.order_by("sku"), 5)
    deferred.count  # noqa: B018  (the count is its own query)
    with django_assert_num_queries(2):
        assert [p.sku for p in deferred.page(2)] == ["Q-5", "Q-6"]


def test_lists_that_are_not_querysets_are_sliced():
    assert list(DeferredJoinPaginator(list(range(7)), 3).page(3)) == [6]
