"""An output serializer applied to rows read with ``QuerySet.values()`` instead of model instances, for long pages.

A page of 500 backorders rendered by DRF built 2,500 model instances (backorder, order, customer, channel, product)
and walked every field's dotted source on each: most of the request's time. ``ValuesRenderer`` reads the same
serializer's fields once, turns each field's source into an ORM lookup (``order.channel.code`` →
``order__channel__code``) and renders each row with the same fields' own ``to_representation``, skipping it only
where the value read from the database already is what it returns (an int for an ``IntegerField``, a str for a
``CharField``...). The serializer stays the one definition of the output (and of the schema); a test per use proves
the rows equal to the serializer's output on instances (tests/core/test_serializer_rows.py,
tests/backorders/test_api.py).

What it cannot read from a row (a property, a value set on the instances afterwards) the caller passes in
``computed``: field name → function of the row.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from typing import Any

from rest_framework import serializers

from .serializer_reuse import reused_fields


def _type_as_read(field) -> type | None:
    """The type of a column value that ``field.to_representation`` returns unchanged (None: always call it)."""
    represent = type(field).to_representation
    if represent is serializers.IntegerField.to_representation:
        return int  # int(value)
    if represent is serializers.CharField.to_representation:
        return str  # str(value); EmailField and the like only add validation
    if represent is serializers.BooleanField.to_representation:
        return bool
    if represent is serializers.ChoiceField.to_representation and all(type(key) is str for key in field.choices):
        return str  # a valid str choice maps to itself; another str is returned as given
    return None


class ValuesRenderer:
    """``serializer_class``'s output for rows of ``queryset.values(*renderer.lookups)``."""

    def __init__(
        self,
        serializer_class: type[serializers.Serializer],
        *,
        computed: dict[str, Callable[[dict], Any]] | None = None,
        extra_lookups: Iterable[str] = (),
    ):
        self.computed = dict(computed or {})
        lookups: list[str] = list(extra_lookups)
        self._plan = self._build(reused_fields(serializer_class), "", lookups)
        self.lookups = tuple(dict.fromkeys(lookups))

    def _build(self, fields, prefix: str, lookups: list[str]) -> list[tuple]:
        """One step per readable field: (name, kind, lookup | computed function, to_representation | nested plan,
        the type of value it renders unchanged)."""
        plan = []
        for name, field in fields.items():
            if field.write_only:
                continue
            if not prefix and name in self.computed:
                plan.append((name, "computed", self.computed[name], field.to_representation, _type_as_read(field)))
                continue
            if isinstance(field, serializers.BaseSerializer) and not isinstance(field, serializers.Serializer):
                raise TypeError(f"{name}: a list serializer cannot be read from one row")
            if isinstance(field, serializers.SerializerMethodField) or field.source == "*":
                raise TypeError(f"{name}: pass it in computed (a method field has no column)")
            lookup = prefix + "__".join(field.source_attrs)
            if isinstance(field, serializers.Serializer):
                # The related object's key says whether there is one (None renders as None, as DRF does).
                lookups.append(lookup)
                plan.append((name, "nested", lookup, self._build(field.fields, lookup + "__", lookups), None))
            else:
                lookups.append(lookup)
                plan.append((name, "value", lookup, field.to_representation, _type_as_read(field)))
        return plan

    def render_many(self, rows: Iterable[dict]) -> list[dict]:
        """The serializer's output for each row. The current time zone (what a ``DateTimeField`` converts to) is read
        once for all of them, not once per value: the same fields, copied with their ``timezone`` set to it."""
        plan = _pinned(self._plan)
        return [self._render(plan, row) for row in rows]

    def _render(self, plan, row: dict) -> dict:
        out = {}
        for name, kind, source, represent, as_read in plan:
            if kind == "nested":
                out[name] = None if row[source] is None else self._render(represent, row)
                continue
            value = source(row) if kind == "computed" else row[source]
            if value is None:
                out[name] = None
            elif type(value) is as_read:
                out[name] = value
            else:
                out[name] = represent(value)
        return out


def _pinned(plan: list[tuple]) -> list[tuple]:
    """``plan`` with each ``DateTimeField`` (without a time zone of its own) pinned to the current time zone."""
    pinned = []
    for name, kind, source, represent, as_read in plan:
        if kind == "nested":
            represent = _pinned(represent)
        else:
            field = getattr(represent, "__self__", None)
            if isinstance(field, serializers.DateTimeField) and not hasattr(field, "timezone"):
                field = copy.copy(field)
                field.timezone = field.default_timezone()
                represent = field.to_representation
        pinned.append((name, kind, source, represent, as_read))
    return pinned
