"""What every import kind shares: columns and their cell parsers, per-row errors, planned records."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from core.errors import DomainError

MAX_TEXT = 200


class CellError(Exception):
    def __init__(self, code: str, message: str):
        self.code, self.message = code, message
        super().__init__(message)


@dataclass(frozen=True)
class RowError:
    row: int
    column: str
    code: str
    message: str

    def as_dict(self) -> dict:
        return {"row": self.row, "column": self.column, "code": self.code, "message": self.message}


@dataclass(frozen=True)
class Column:
    name: str
    parse: Callable[[object], object]
    required: bool = False
    default: object = None
    help: str = ""
    example: object = ""
    blank_is_none: bool = False  # a blank cell means None ("no limit"), not "keep"


@dataclass
class Record:
    """One unit of work: a row, or the rows of one purchase order / order. ``action`` is what would happen."""

    key: str
    rows: list[int]
    data: object
    action: str  # "create" | "update" | "unchanged"
    current: object = None  # the object as it is now (update / unchanged)
    extra: dict = field(default_factory=dict)


def _blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def text(max_length: int = MAX_TEXT, pattern: str | None = None, hint: str = "") -> Callable:
    compiled = re.compile(pattern) if pattern else None

    def parse(value) -> str:
        if isinstance(value, float) and value.is_integer():
            value = int(value)  # a spreadsheet turned the code 1001 into 1001.0
        value = str(value).strip()
        if "\x00" in value:
            raise CellError("invalid_text", "Contains a NUL character.")
        if len(value) > max_length:
            raise CellError("too_long", f"At most {max_length} characters (this has {len(value)}).")
        if compiled and not compiled.fullmatch(value):
            raise CellError("invalid_format", hint or f"Does not match {pattern}.")
        return value

    return parse


CODE = text(
    64, r"[A-Za-z0-9][A-Za-z0-9._\-]*", "Letters, digits, '.', '_' and '-' only, starting with a letter or digit."
)


def integer(minimum: int = 0, maximum: int = 1_000_000_000) -> Callable:
    def parse(value) -> int:
        if isinstance(value, bool):
            raise CellError("not_a_whole_number", "Expected a whole number, not true/false.")
        try:
            number = Decimal(str(value).strip()) if not isinstance(value, int) else Decimal(value)
        except InvalidOperation as exc:
            raise CellError("not_a_whole_number", f"{str(value)[:40]!r} is not a whole number.") from exc
        if not number.is_finite() or number != number.to_integral_value():
            raise CellError("not_a_whole_number", f"{str(value)[:40]!r} is not a whole number.")
        if not minimum <= number <= maximum:
            raise CellError("out_of_range", f"Must be between {minimum:,} and {maximum:,}.")
        return int(number)

    return parse


def decimal(minimum: Decimal = Decimal("0"), maximum: Decimal = Decimal("9999999999.99"), places: int = 2):
    def parse(value) -> Decimal:
        if isinstance(value, bool):
            raise CellError("not_a_number", "Expected a number, not true/false.")
        raw = str(value).strip().replace(",", ".") if isinstance(value, str) else value
        try:
            number = Decimal(str(raw))
        except InvalidOperation as exc:
            raise CellError("not_a_number", f"{str(value)[:40]!r} is not a number.") from exc
        if not number.is_finite():
            raise CellError("not_a_number", f"{str(value)[:40]!r} is not a number.")
        if not minimum <= number <= maximum:
            raise CellError("out_of_range", f"Must be between {minimum} and {maximum}.")
        if number != number.quantize(Decimal(1).scaleb(-places)):
            raise CellError("too_many_decimals", f"At most {places} decimal places.")
        return number.quantize(Decimal(1).scaleb(-places))

    return parse


TRUE, FALSE = {"true", "yes", "y", "1"}, {"false", "no", "n", "0"}


def boolean(value) -> bool:
    if isinstance(value, bool):
        return value
    lowered = str(value).strip().lower()
    if lowered in TRUE:
        return True
    if lowered in FALSE:
        return False
    raise CellError("not_a_boolean", "Use true or false (yes/no and 1/0 are understood too).")


def choice(values) -> Callable:
    allowed = list(values)

    def parse(value) -> str:
        lowered = str(value).strip().lower()
        if lowered not in allowed:
            raise CellError("invalid_choice", f"Use one of: {', '.join(allowed)}.")
        return lowered

    return parse


def iso_date(value) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    raw = str(value).strip()
    try:
        if len(raw) != 10:
            raise ValueError(raw)
        return date.fromisoformat(raw)
    except ValueError as exc:
        raise CellError("invalid_date", "Use a date as YYYY-MM-DD.") from exc


def email(value) -> str:
    value = text(254)(value)
    if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", value):
        raise CellError("invalid_email", "Not an e-mail address.")
    return value


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING = _Missing()  # the column is not in the file, or the cell is blank: keep the current value (or the default)


def parse_row(columns: list[Column], number: int, values: dict) -> tuple[dict, list[RowError]]:
    """Typed values by column. A column left out of the file, or a blank cell, is ``MISSING`` (an update keeps the
    current value, a new record takes the default), except where blank is a value of its own (``blank_is_none``:
    "no limit")."""
    parsed, errors = {}, []
    for column in columns:
        raw = values.get(column.name)
        if column.name not in values:
            if column.required:
                errors.append(RowError(number, column.name, "required", "A value is required."))
            parsed[column.name] = MISSING
            continue
        if _blank(raw):
            if column.required:
                errors.append(RowError(number, column.name, "required", "A value is required."))
            parsed[column.name] = None if column.blank_is_none else MISSING
            continue
        try:
            parsed[column.name] = column.parse(raw)
        except CellError as exc:
            errors.append(RowError(number, column.name, exc.code, exc.message))
    return parsed, errors


def merged(parsed: dict, current, columns: list[Column], names) -> dict:
    """The values a record will have: the file's, else the current object's, else the column's default."""
    by_name = {c.name: c for c in columns}
    result = {}
    for name in names:
        value = parsed.get(name, MISSING)
        if value is MISSING:
            value = getattr(current, name) if current is not None else by_name[name].default
        result[name] = value
    return result


def domain_error(record: Record, exc: DomainError, column: str = "") -> list[RowError]:
    return [RowError(record.rows[0], column, exc.code, exc.message)]


class RecordRefused(Exception):
    """A record the services refused while writing: carries its row errors."""

    def __init__(self, record: Record, errors: list[RowError]):
        self.record, self.errors = record, errors
        super().__init__(errors[0].message if errors else "refused")


class Kind:
    """An importable kind. ``columns`` in template order; ``key`` names the natural key. A grouped kind (purchase
    orders, orders) has one row per line: rows sharing the key are one record, whose ``header_columns`` must agree
    and whose ``line_key`` is unique within it."""

    name = ""
    title = ""
    description = ""
    columns: list[Column] = []
    key: tuple[str, ...] = ()
    grouped = False
    header_columns: tuple[str, ...] = ()
    line_key: tuple[str, ...] = ()
    # Columns the export of this kind adds (so an export imports back): accepted and ignored.
    ignored: tuple[str, ...] = ("updated_at",)
    # What the person importing must be allowed to do (core/roles.py), besides exchange.add_importjob.
    permissions: tuple[str, ...] = ()

    def plan(self, records: list[Record]) -> dict[int, list[RowError]]:
        """Decide each record's action (create / update / unchanged) and find what the services would refuse,
        reading in bulk; returns errors by record index."""
        raise NotImplementedError

    def write_one(self, record: Record, *, user) -> None:
        """Write one record through the services (one transaction); raise a DomainError to refuse it."""
        raise NotImplementedError

    def write(self, records: list[Record], *, user, partial: bool, progress) -> list[RowError]:
        """Write the records. All-or-nothing (``partial`` False, inside the caller's transaction): the first refusal
        raises ``RecordRefused``. Partial: each record on its own; refusals are returned."""
        errors: list[RowError] = []
        for done, record in enumerate(records, start=1):
            try:
                self.write_one(record, user=user)
            except DomainError as exc:
                refusal = [RowError(record.rows[0], "", exc.code, exc.message)]
                if not partial:
                    raise RecordRefused(record, refusal) from exc
                record.action = "refused"
                errors.extend(refusal)
            progress(done)
        return errors

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)
