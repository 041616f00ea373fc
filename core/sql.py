"""Composing several writes into one statement (data-modifying CTEs), for hot paths where round trips count.

``insert_sql`` renders an INSERT of unsaved model instances with their values prepared exactly as ``bulk_create``
prepares them (``pre_save`` for auto_now_add, ``get_db_prep_save`` for every type), so the model stays the single
description of the table: a new field is written here without anyone listing it. A column may be given as an SQL
expression per row instead (for example the id a previous CTE returned).
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db import connection
from django.db.models import Field
from django.db.models.expressions import DatabaseDefault

Expression = Callable[[object], tuple[str, list]]  # row → (SQL, params)


def insert_sql(
    objs: Sequence,
    *,
    columns: dict[str, Expression] | None = None,
    returning: Sequence[str] = ("id",),
    where: str = "",
    order_by: str = "",
    on_conflict: str = "",
) -> tuple[str, list]:
    """``INSERT INTO <table> (...) VALUES (...), ... RETURNING ...`` for ``objs`` (one model, not yet saved).

    ``columns`` maps a field's attname to a function giving that column's SQL expression and params for a row.
    With ``where`` (an SQL condition, no params) the rows are written only when it holds, in ``order_by`` order (SQL
    over the columns' names): ``INSERT … SELECT * FROM (VALUES …) v WHERE …``, each value cast to its column's type.
    ``on_conflict`` (e.g. ``ON CONFLICT DO NOTHING``) goes before ``RETURNING``; ``returning`` names columns.
    """
    model = type(objs[0])
    overrides = columns or {}
    steps, column_list = _insert_plan(model, bool(where))
    rows, params = [], []
    for obj in objs:
        parts = []
        for field, attname, own_pre_save, placeholder, plain, db_default in steps:
            if attname in overrides:
                sql, extra = overrides[attname](obj)
                parts.append(sql)
                params.extend(extra)
                continue
            value = field.pre_save(obj, True) if own_pre_save else getattr(obj, attname)
            if db_default and isinstance(value, DatabaseDefault):
                parts.append("DEFAULT")
                continue
            parts.append(placeholder)
            # A str/int/bool (or NULL) of a text/integer/boolean column is sent as it is (what get_db_prep_save
            # returns for it); anything else is prepared by its field.
            if value is None or (plain is not None and type(value) is plain):
                params.append(value)
            else:
                params.append(field.get_db_prep_save(value, connection=connection))
        rows.append(f"({', '.join(parts)})")
    qn = connection.ops.quote_name
    returning_list = ", ".join(qn(name) for name in returning)
    values = f"VALUES {', '.join(rows)}"
    if where:
        order = f" ORDER BY {order_by}" if order_by else ""
        values = f"SELECT * FROM ({values}) AS v({column_list}) WHERE {where}{order}"
    conflict = f" {on_conflict}" if on_conflict else ""
    sql = f"INSERT INTO {qn(model._meta.db_table)} ({column_list}) {values}{conflict} RETURNING {returning_list}"
    return sql, params


_PLAIN_VALUES = {
    **dict.fromkeys(("CharField", "TextField", "EmailField", "SlugField", "URLField"), str),
    **dict.fromkeys(("IntegerField", "BigIntegerField", "SmallIntegerField", "PositiveIntegerField"), int),
    **dict.fromkeys(("PositiveBigIntegerField", "PositiveSmallIntegerField", "ForeignKey", "OneToOneField"), int),
    "BooleanField": bool,
}


@functools.lru_cache(maxsize=256)
def _insert_plan(model, cast: bool) -> tuple[tuple, str]:
    """What ``insert_sql`` does for each column of ``model``, worked out once: the field, its attname, whether it has a
    ``pre_save`` of its own (auto_now and the like; others are read as they are, as ``Field.pre_save`` reads them),
    its placeholder (cast to its type outside ``VALUES``: PostgreSQL would not take an untyped value there), the plain
    Python type it is sent as, whether it has a database default. And the column list."""
    fields = [f for f in model._meta.concrete_fields if not f.primary_key and not getattr(f, "generated", False)]
    steps = tuple(
        (
            f,
            f.attname,
            type(f).pre_save is not Field.pre_save,
            _cast_placeholder(f) if cast else "%s",
            _PLAIN_VALUES.get(f.get_internal_type()),
            f.has_db_default(),
        )
        for f in fields
    )
    return steps, ", ".join(connection.ops.quote_name(f.column) for f in fields)


@functools.lru_cache(maxsize=512)
def _cast_placeholder(field) -> str:
    return f"CAST(%s AS {field.cast_db_type(connection)})"


def row_json_sql(model, *, where: str, params: list, order_by: str = "", source: str = "") -> tuple[str, list]:
    """A scalar subquery (SQL, params) giving the first row of ``model`` matching ``where`` as JSON (every column as
    text, so nothing is rounded through a JSON number), for a statement that reads it in passing; ``from_row_json``
    turns it back into an instance. ``source`` reads another relation with the table's columns instead (a CTE's
    ``RETURNING`` rows, say). PostgreSQL."""
    qn = connection.ops.quote_name
    fields = model._meta.concrete_fields
    columns = ", ".join(f"{qn(f.column)}::text AS {qn(f.attname)}" for f in fields)
    order = f" ORDER BY {order_by}" if order_by else ""
    inner = f"SELECT {columns} FROM {source or qn(model._meta.db_table)} WHERE {where}{order} LIMIT 1"
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


# --- server-side prepared statements -------------------------------------------------------------

_PLACEHOLDER = re.compile(r"%%|%s")
_STATEMENTS: dict[str, tuple[str, str, str]] = {}  # statement text → (name, PREPARE text, EXECUTE text)
_STATEMENTS_SIZE = 512
_PER_CONNECTION = 256  # prepared statements kept on one database session, at most


def execute_prepared(cursor, sql: str, params: Sequence) -> None:
    """``cursor.execute(sql, params)`` for a hot statement, planned once per database session.

    psycopg2 sends every statement as text, so PostgreSQL parses and plans it on every call: for the statements
    of order placement the planning cost more server time than the execution (1.7 ms against 0.9 ms for the stock
    lock). On PostgreSQL the statement is ``PREPARE``d on the session the first time it runs there (sent in the same
    round trip as its first ``EXECUTE``) and then only executed; anywhere else, and once a session holds
    ``_PER_CONNECTION`` of them, it is executed as it is. The text is the one description (``%s`` placeholders, as
    for ``cursor.execute``); its parameters' types are those PostgreSQL infers for them, as for the plain statement.
    Prepared statements are not transactional (a rollback keeps them), so a session's list is only forgotten with
    the session; if the round trip that prepares one fails, the statement's state is read back on the next use.
    """
    if connection.vendor != "postgresql":
        cursor.execute(sql, params)
        return
    known = _STATEMENTS.get(sql)
    if known is None:
        count = 0

        def numbered(match):
            nonlocal count
            if match.group() == "%%":
                return "%%"
            count += 1
            return f"${count}"

        text = _PLACEHOLDER.sub(numbered, sql)
        name = "oms_" + hashlib.sha1(sql.encode()).hexdigest()[:24]
        execute = f"EXECUTE {name}" + (f"({', '.join(['%s'] * count)})" if count else "")
        known = (name, f"PREPARE {name} AS {text}", execute)
        if len(_STATEMENTS) >= _STATEMENTS_SIZE:
            _STATEMENTS.clear()
        _STATEMENTS[sql] = known
    name, prepare, execute = known
    session = _session_statements()
    state = session.get(name)
    if state == "unknown":  # the round trip that prepared it failed: did the PREPARE part take?
        cursor.execute("SELECT 1 FROM pg_prepared_statements WHERE name = %s", [name])
        state = session[name] = "prepared" if cursor.fetchone() else None
        if state is None:
            del session[name]
    if state == "prepared":
        cursor.execute(execute, list(params))
        return
    if len(session) >= _PER_CONNECTION:
        cursor.execute(sql, list(params))
        return
    session[name] = "unknown"
    cursor.execute(f"{prepare}; {execute}", list(params))
    session[name] = "prepared"


def _session_statements() -> dict[str, str]:
    """The prepared statements of the current database session (a new session starts with none)."""
    raw = connection.connection
    kept = getattr(connection, "_oms_prepared", None)
    if kept is None or kept[0] is not raw:
        kept = (raw, {})
        connection._oms_prepared = kept
    return kept[1]


# --- several reads, one round trip ------------------------------------------------------------


def fetch_together(reads: Sequence) -> list[list]:
    """The rows of several reads in ONE round trip on PostgreSQL (elsewhere each read is evaluated on its own).

    A read is a ``values_list()`` QuerySet (rows come back as that QuerySet would give them: tuples, or values with
    ``flat=True``, each value through its field's ``to_python``) or plain SQL ``(sql, params, width)`` selecting
    ``width`` columns (rows of texts). The
    QuerySets stay the one description of each read; only the transport changes: each read becomes a scalar
    subquery aggregating its rows (in their order) into a text array, so one statement carries them all.
    """
    if connection.vendor != "postgresql":
        results = []
        for read in reads:
            if isinstance(read, tuple):
                with connection.cursor() as cursor:
                    cursor.execute(read[0], read[1])
                    results.append([tuple(None if v is None else str(v) for v in row) for row in cursor.fetchall()])
            else:
                results.append(list(read))
        return results
    sql, params, decoders = _compiled(reads)
    return _run(sql, params, decoders)


def _compiled(reads) -> tuple[str, list, list]:
    parts, params, decoders = [], [], []
    for read in reads:
        if isinstance(read, tuple):
            sql, read_params, width = read
            decoders.append(lambda rows: [tuple(row) for row in rows])
        else:
            compiler = read.query.get_compiler(connection=connection)
            sql, read_params = compiler.as_sql()
            width = len(compiler.select)
            decoders.append(_values_list_decoder(read, compiler))
        columns = ", ".join(f"c{i}" for i in range(width))
        texts = ", ".join(f"t.c{i}::text" for i in range(width))
        parts.append(f"(SELECT array_agg(ARRAY[{texts}]) FROM ({sql}) AS t({columns}))")
        params.extend(read_params)
    return "SELECT " + ", ".join(parts), params, decoders


def _run(sql: str, params: list, decoders: list) -> list[list]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return [decode(rows or []) for decode, rows in zip(decoders, row, strict=True)]


# --- the same, built once per shape --------------------------------------------------------------

_PREPARED: dict[tuple, tuple[str, list, list] | int] = {}  # the prepared statement, or how many tries failed
_PREPARED_SIZE = 256


def _nudged(value):
    """A value of the same type, next to ``value`` (to tell which parameters come from which input)."""
    if isinstance(value, bool) or value is None:
        return None  # cannot be told apart reliably: not preparable
    if isinstance(value, int):
        return value + 1
    if isinstance(value, Decimal):
        return value + Decimal("0.0001")
    if isinstance(value, datetime):
        return value + timedelta(microseconds=1)
    if isinstance(value, date):
        return value + timedelta(days=1)
    return None


def fetch_together_prepared(key, build: Callable[..., Sequence], **inputs) -> list[list]:
    """``fetch_together(build(**inputs))``, with the statement built once per shape (``key`` and the lengths of the
    list inputs) and kept: a later call only puts its values where the inputs go. The QuerySets stay the one
    description of the reads; what is saved is building and compiling them again (most of their cost).

    Inputs are ids, numbers, decimals, dates and datetimes, or lists of them; every date or time a read depends on
    must be an input (a shape with a date constant is never kept: it would go stale). The first call of a shape
    compiles the reads twice, with the inputs and with each nudged (1 more, 1 µs later...): a parameter that follows
    an input is that input's place, one that stays is a constant. If the two texts differ, or a parameter cannot be
    traced to exactly one input, the shape is not kept and every call builds its reads (always correct, only slower).
    """
    if connection.vendor != "postgresql":
        return fetch_together(build(**inputs))
    names = sorted(inputs)
    flat = [
        (name, i) for name in names for i in (range(len(inputs[name])) if isinstance(inputs[name], list) else [None])
    ]

    def value(values, slot):
        name, i = slot
        return values[name] if i is None else values[name][i]

    shape = (key, tuple(len(inputs[n]) if isinstance(inputs[n], list) else None for n in names))
    prepared = _PREPARED.get(shape, 0)
    if isinstance(prepared, int) and prepared < 3:  # not tried yet, or values that happened to coincide: again
        sql, params, decoders = _compiled(build(**inputs))
        nudged = {
            name: [_nudged(v) for v in inputs[name]] if isinstance(inputs[name], list) else _nudged(inputs[name])
            for name in names
        }
        traced = None
        if all(value(nudged, slot) is not None for slot in flat):
            other_sql, other_params, _ = _compiled(build(**nudged))
            traced = _trace(sql, params, other_sql, other_params, flat, inputs, nudged, value, decoders)
        if len(_PREPARED) >= _PREPARED_SIZE:
            _PREPARED.clear()
        _PREPARED[shape] = traced or prepared + 1
        return _run(sql, params, decoders)
    if isinstance(prepared, int):
        return fetch_together(build(**inputs))
    sql, slots, decoders = prepared
    return _run(sql, [constant if slot is None else value(inputs, slot) for slot, constant in slots], decoders)


def _trace(sql, params, other_sql, other_params, flat, inputs, nudged, value, decoders):
    """(sql, [(input slot or None, constant)], decoders), or None when a parameter cannot be traced."""
    if sql != other_sql or len(params) != len(other_params):
        return None
    slots = []
    for param, other in zip(params, other_params, strict=True):
        if type(param) is type(other) and param == other:
            if isinstance(param, date):
                # A date or time no input carries was computed while building (today, now − 14 days...): kept, it
                # would go stale. Such a shape is never kept; pass the moment as an input instead.
                return None
            slots.append((None, param))
            continue
        found = [
            slot
            for slot in flat
            if type(value(inputs, slot)) is type(param)
            and value(inputs, slot) == param
            and value(nudged, slot) == other
        ]
        if len(found) != 1:
            return None
        slots.append((found[0], None))
    # Every input must show: one no parameter follows may be folded into the text (never trust such a shape).
    if {slot for slot, _ in slots if slot is not None} != set(flat):
        return None
    return sql, slots, decoders


def _to_python(field):
    kind = field.get_internal_type()
    if kind == "BooleanField":
        return lambda value: None if value is None else value in ("true", "t")
    if kind == "JSONField":
        import json

        return lambda value: None if value is None else json.loads(value)
    return lambda value: None if value is None else field.to_python(value)


def _values_list_decoder(queryset, compiler):
    """Rows of texts → what ``queryset`` (a values_list) yields: typed values in the order of its fields."""
    from django.db.models.query import FlatValuesListIterable, ValuesListIterable

    if queryset._iterable_class not in (ValuesListIterable, FlatValuesListIterable):
        raise TypeError("fetch_together reads values_list() QuerySets")
    # The columns come in the order the values_list names them (Django 5.2 selects them in that order).
    convert = [_to_python(expression.output_field) for expression, _, _ in compiler.select]
    flat = queryset._iterable_class is FlatValuesListIterable

    def decode(rows):
        typed = [tuple(c(v) for c, v in zip(convert, row, strict=True)) for row in rows]
        return [row[0] for row in typed] if flat else typed

    return decode
