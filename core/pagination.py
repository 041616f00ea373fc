"""The pagination every API list uses (``REST_FRAMEWORK["DEFAULT_PAGINATION_CLASS"]``)."""

from __future__ import annotations

import functools

from django.core.paginator import Paginator as DjangoPaginator
from django.db.models import QuerySet
from rest_framework import exceptions as drf_exceptions
from rest_framework.pagination import PageNumberPagination


class DeferredJoinPaginator(DjangoPaginator):
    """Reads a page of a queryset in two steps: the page's primary keys first (the filters and the ordering only,
    no joins for ``select_related``: PostgreSQL can walk an index or keep a top-N sort instead of sorting every
    joined row), then those rows with everything the queryset joins and prefetches. Same rows, same order; one
    more query per page, whatever the page size.

    With ``row_values`` (lookups, the primary key's name among them) the page's rows are read as
    ``.values(*row_values)`` dicts instead of model instances; the count and the keys still come from the queryset
    as it is (``.values()`` on the queryset itself would add its joins to both)."""

    def __init__(self, object_list, per_page, orphans=0, allow_empty_first_page=True, *, row_values=()):
        super().__init__(object_list, per_page, orphans, allow_empty_first_page)
        self.row_values = tuple(row_values)

    def page(self, number):
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = bottom + self.per_page
        if top + self.orphans >= self.count:
            top = self.count
        queryset = self.object_list
        if not isinstance(queryset, QuerySet) or queryset.query.combinator or queryset.query.distinct_fields:
            if self.row_values:
                queryset = queryset.values(*self.row_values)
            return self._get_page(queryset[bottom:top], number, self)
        keys = list(queryset.values_list("pk", flat=True)[bottom:top])
        if not keys:
            rows = {}
        elif self.row_values:
            pk_name = queryset.model._meta.pk.attname
            rows = {row[pk_name]: row for row in queryset.filter(pk__in=keys).values(*self.row_values)}
        else:
            rows = {row.pk: row for row in queryset.filter(pk__in=keys)}
        return self._get_page([rows[key] for key in keys if key in rows], number, self)


class StandardPagination(PageNumberPagination):
    """Pages of 50 by default. A ``page_size`` that is not a positive whole number, or a ``page`` that is not one,
    is a 400 naming the parameter (never a silent default, never a 404 for ``page=abc``); a page past the end is 404."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not raw.isdigit() or int(raw) < 1:
            raise drf_exceptions.ValidationError(
                {self.page_size_query_param: [f"Must be a whole number from 1 to {self.max_page_size}."]}
            )
        return min(int(raw), self.max_page_size)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_query_param:
                parameter["schema"] = {"type": "integer", "minimum": 1}
            elif parameter["name"] == self.page_size_query_param:
                # Above the maximum a page is capped (documented), not refused: no ``maximum`` here.
                parameter["schema"] = {"type": "integer", "minimum": 1}
                parameter["description"] = f"Results per page, from 1 (default {self.page_size}; above "
                f"{self.max_page_size} it is capped at {self.max_page_size})."
        return parameters

    _row_values: tuple[str, ...] = ()

    @property
    def django_paginator_class(self):
        return functools.partial(DeferredJoinPaginator, row_values=self._row_values)

    def paginate_rows(self, queryset, request, *, values, view=None) -> list[dict] | None:
        """``paginate_queryset`` with the page's rows read as ``queryset.values(*values)`` (dicts, the primary key's
        name among ``values``): for a view that renders long pages from plain rows (``core.serializer_rows``)."""
        self._row_values = tuple(values)
        try:
            page = self.paginate_queryset(queryset, request, view)
        finally:
            self._row_values = ()
        return None if page is None else list(page)

    def paginate_queryset(self, queryset, request, view=None):
        raw = request.query_params.get(self.page_query_param)
        if raw is not None and raw != "last" and (not raw.isdigit() or int(raw) < 1):
            raise drf_exceptions.ValidationError({self.page_query_param: ["Must be a whole number from 1."]})
        return super().paginate_queryset(queryset, request, view)
