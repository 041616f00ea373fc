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
