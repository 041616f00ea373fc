"""Composing several writes into one statement (data-modifying CTEs), for hot paths where round trips count.

``insert_sql`` renders an INSERT of unsaved model instances with their values prepared exactly as ``bulk_create``
prepares them (``pre_save`` for auto_now_add, ``get_db_prep_save`` for every type), so the model stays the single
description of the table: a new field is written here without anyone listing it. A column may be given as an SQL
expression per row instead (for example the id a previous CTE returned).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from django.db import connection
from django.db.models.expressions import DatabaseDefault

Expression = Callable[[object], tuple[str, list]]  # row → (SQL, params)


def insert_sql(
    objs: Sequence, *, columns: dict[str, Expression] | None = None, returning: Sequence[str] = ("id",)
) -> tuple[str, list]:
    """``INSERT INTO <table> (...) VALUES (...), ... RETURNING ...`` for ``objs`` (one model, not yet saved).

    ``columns`` maps a field's attname to a function giving that column's SQL expression and params for a row.
    """
    model = type(objs[0])
    meta = model._meta
    overrides = columns or {}
    fields = [f for f in meta.concrete_fields if not f.primary_key and not getattr(f, "generated", False)]
    rows, params = [], []
    for obj in objs:
        parts = []
        for field in fields:
            if field.attname in overrides:
                sql, extra = overrides[field.attname](obj)
                parts.append(sql)
                params.extend(extra)
                continue
            value = field.pre_save(obj, True)
            if isinstance(value, DatabaseDefault):
                parts.append("DEFAULT")
                continue
            parts.append("%s")
            params.append(field.get_db_prep_save(value, connection=connection))
        rows.append(f"({', '.join(parts)})")
    qn = connection.ops.quote_name
    column_list = ", ".join(qn(f.column) for f in fields)
    returning_list = ", ".join(qn(name) for name in returning)
    sql = f"INSERT INTO {qn(meta.db_table)} ({column_list}) VALUES {', '.join(rows)} RETURNING {returning_list}"
    return sql, params


def row_json_sql(model, *, where: str, params: list, order_by: str = "") -> tuple[str, list]:
    """A scalar subquery (SQL, params) giving the first row of ``model`` matching ``where`` as JSON (every column as
    text, so nothing is rounded through a JSON number), for a statement that reads it in passing; ``from_row_json``
    turns it back into an instance. PostgreSQL."""
    qn = connection.ops.quote_name
    fields = model._meta.concrete_fields
    columns = ", ".join(f"{qn(f.column)}::text AS {qn(f.attname)}" for f in fields)
    order = f" ORDER BY {order_by}" if order_by else ""
    inner = f"SELECT {columns} FROM {qn(model._meta.db_table)} WHERE {where}{order} LIMIT 1"
    return f"SELECT row_to_json(r) FROM ({inner}) r", params


def from_row_json(model, row: dict | None):
    """The instance of ``model`` that ``row_json_sql`` read (None when there was no row), as loaded from the
    database: each value through its field's ``to_python``."""
    if row is None:
        return None
    fields = model._meta.concrete_fields
    values = []
    for field in fields:
        value = row[field.attname]
        if value is not None and field.get_internal_type() == "BooleanField":
            value = value in ("true", "t")
        elif value is not None and field.get_internal_type() == "JSONField":
            import json

            value = json.loads(value)
        else:
            value = field.to_python(value)
        values.append(value)
    return model.from_db(connection.alias, [f.attname for f in fields], values)
