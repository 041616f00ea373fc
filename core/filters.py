"""The API's query parameters: django-filter and ordering that refuse what they cannot use (a 400 naming the
parameter), never silently ignore it. config/openapi.py states the same rules in the schema."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import django_filters
from django import forms
from django_filters.fields import IsoDateTimeField
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import exceptions as drf_exceptions
from rest_framework import filters


class UtcIsoDateTimeField(IsoDateTimeField):
    """An ISO 8601 date-time, converted to UTC before it reaches the database: PostgreSQL refuses offsets beyond
    ±15:59 (``-22:46`` is valid RFC 3339, and was a 500). Past the calendar's ends in UTC, the calendar's end."""

    def to_python(self, value):
        value = super().to_python(value)
        if value is None or value.tzinfo is None:
            return value
        try:
            return value.astimezone(UTC)
        except OverflowError:
            edge = datetime.max if value.year > 1 else datetime.min
            return edge.replace(tzinfo=UTC)


class UtcIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UtcIsoDateTimeField


class WholeNumberFilter(django_filters.NumberFilter):
    """A number filter that takes whole numbers only (an id): ``0.5`` is a 400, not an empty page."""

    field_class = forms.IntegerField


class StrictFilterBackend(DjangoFilterBackend):
    """django-filter, but a filter that takes a typed value (a date, a number, a boolean, a choice) refuses an
    empty one (``?placed_before=``) with a 400 naming it, instead of treating it as absent: an empty value is not
    a date. Text filters (``?sku=``) still take an empty string, as their schema (a string) allows; an empty
    ``ordering`` is the default order. A boolean is ``true`` or ``false`` (not ``1``, ``null`` or ``yes``)."""

    def get_filterset(self, request, queryset, view):
        filterset = super().get_filterset(request, queryset, view)
        if filterset is not None:
            errors = {}
            for name, filter_ in filterset.filters.items():
                values = request.query_params.getlist(name)
                if not values or isinstance(filter_, (django_filters.CharFilter, django_filters.OrderingFilter)):
                    continue
                if any(value == "" for value in values):
                    errors[name] = ["May not be empty: leave the parameter out instead."]
                elif isinstance(filter_, django_filters.BooleanFilter) and any(
                    value not in ("true", "false") for value in values
                ):
                    errors[name] = ["Must be true or false."]
            if errors:
                raise drf_exceptions.ValidationError(errors)
        return filterset


class StrictOrderingFilter(filters.OrderingFilter):
    """DRF's ordering, but an unknown field is a 400 naming ``ordering`` instead of being silently dropped. Views
    that declare no ``ordering_fields`` take no ``ordering`` from this backend (their filterset may have its own)."""

    def filter_queryset(self, request, queryset, view):
        if getattr(view, "ordering_fields", None) is None:
            return queryset
        return super().filter_queryset(request, queryset, view)

    def get_schema_operation_parameters(self, view):
        if getattr(view, "ordering_fields", None) is None:
            return []
        names = "|".join(re.escape(name) for name in view.ordering_fields)
        return [
            {
                "name": self.ordering_param,
                "required": False,
                "in": "query",
                "description": f"Sort by {', '.join(view.ordering_fields)} (- in front reverses; comma-separated).",
                "schema": {"type": "string", "pattern": f"^(-?({names})(,-?({names}))*)?$"},
            }
        ]

    def remove_invalid_fields(self, queryset, fields, view, request):
        valid = super().remove_invalid_fields(queryset, fields, view, request)
        if len(valid) != len(fields):
            allowed = sorted(name for name, _ in self.get_valid_fields(queryset, view, {"request": request}))
            raise drf_exceptions.ValidationError(
                {self.ordering_param: [f"Unknown ordering; choose from {', '.join(allowed)} (prefix - to reverse)."]}
            )
        return valid


class UpdatedSinceFilter(filters.BaseFilterBackend):
    """``?updated_since=<ISO 8601 date-time>`` on every list: rows whose ``updated_at`` is at or after it, so an ERP
    can poll for changes. ``updated_at`` moves on every real change of the row, set-based SQL included (a trigger on
    PostgreSQL, ``core/triggers.py``). A view names its field in ``updated_since_field`` (``None``: a computed list,
    such as shortages or the plan, that is recomputed on every call and so is wholly "changed"; the parameter is
    then accepted and every row returned). Poll with an overlap (the last ``updated_at`` you saw minus a minute):
    a transaction that commits late keeps the time of its change."""

    param = "updated_since"

    def filter_queryset(self, request, queryset, view):
        raw = request.query_params.getlist(self.param)
        if not raw:
            return queryset
        if len(raw) > 1 or raw[0] == "":
            raise drf_exceptions.ValidationError({self.param: ["Give one date-time (ISO 8601), or leave it out."]})
        try:
            value = UtcIsoDateTimeField().clean(raw[0])
        except forms.ValidationError as exc:
            raise drf_exceptions.ValidationError({self.param: ["Enter a valid ISO 8601 date-time."]}) from exc
        if value is None:
            raise drf_exceptions.ValidationError({self.param: ["Enter a valid ISO 8601 date-time."]})
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        field = getattr(view, "updated_since_field", "updated_at")
        if field is None or not hasattr(queryset, "filter"):
            return queryset
        return queryset.filter(**{f"{field}__gte": value})

    def get_schema_operation_parameters(self, view):
        return [
            {
                "name": self.param,
                "required": False,
                "in": "query",
                "description": "Only rows changed at or after this date-time (ISO 8601); each row has updated_at.",
                "schema": {"type": "string", "format": "date-time"},
            }
        ]
