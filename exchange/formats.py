"""Reading an uploaded file into rows, and writing rows as CSV, XLSX or JSON lines (streamed).

CSV is read with the standard library's ``csv`` (UTF-8 with or without a byte-order mark; the delimiter, ``;`` or
``,``, is the one the header line uses); XLSX with openpyxl in read-only mode (the first sheet; constant memory);
JSON lines with ``json`` (one object per line). Header names are matched without case and surrounding spaces.
Every text cell written out is neutralised against spreadsheet formulas (``core.spreadsheet.cell_safe``).
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from core.spreadsheet import cell_safe

MAX_ROWS = 1_000_000


class UnreadableFile(Exception):
    """The file cannot be read as the format says (bad encoding, not an XLSX, a line that is not JSON...)."""

    def __init__(self, message: str, *, row: int | None = None):
        self.message, self.row = message, row
        super().__init__(message)


@dataclass
class Table:
    header: list[str]  # normalised column names, in the file's order
    rows: list[tuple[int, dict[str, object]]]  # (row number as a person counts it in the file, values by column)


def _normalise(name) -> str:
    return str(name if name is not None else "").strip().lower().replace(" ", "_")


def _blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def read_table(content: bytes, file_format: str) -> Table:
    if file_format == "csv":
        return _read_csv(content)
    if file_format == "xlsx":
        return _read_xlsx(content)
    if file_format == "jsonl":
        return _read_jsonl(content)
    raise UnreadableFile(f"Unknown format {file_format!r}: use csv, xlsx or jsonl.")


def _read_csv(content: bytes) -> Table:
    try:
        text = content.decode("utf-8-sig")  # with or without the byte-order mark
    except UnicodeDecodeError as exc:
        raise UnreadableFile("The CSV file is not UTF-8 text (save it as 'CSV UTF-8').") from exc
    first_line = text.split("\n", 1)[0]
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader, None)
        if not header or all(_blank(h) for h in header):
            raise UnreadableFile("The file is empty: the first line must name the columns.", row=1)
        names = [_normalise(h) for h in header]
        rows = []
        for number, values in enumerate(reader, start=2):
            if not values or all(_blank(v) for v in values):
                continue  # blank lines (a trailing one, spreadsheet padding) are not rows
            if len(values) > len(names):
                extra = values[len(names) :]
                if any(not _blank(v) for v in extra):
                    raise UnreadableFile(f"Row {number} has more cells than the header has columns.", row=number)
            rows.append((number, {name: (values[i] if i < len(values) else "") for i, name in enumerate(names)}))
            if len(rows) > MAX_ROWS:
                raise UnreadableFile(f"More than {MAX_ROWS:,} rows: split the file.")
    except csv.Error as exc:
        raise UnreadableFile(f"The CSV file cannot be read: {exc}.") from exc
    return Table(header=names, rows=rows)


def _read_xlsx(content: bytes) -> Table:
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except (InvalidFileException, KeyError, OSError, ValueError, Exception) as exc:  # zipfile.BadZipFile among them
        raise UnreadableFile("The file is not an Excel workbook (.xlsx).") from exc
    try:
        sheet = workbook.worksheets[0]
        values = sheet.iter_rows(values_only=True)
        header = next(values, None)
        if not header or all(_blank(h) for h in header):
            raise UnreadableFile("The first sheet is empty: its first row must name the columns.", row=1)
        names = [_normalise(h) for h in header]
        while names and names[-1] == "":
            names.pop()
        rows = []
        for number, cells in enumerate(values, start=2):
            if cells is None or all(_blank(c) for c in cells):
                continue
            rows.append((number, {name: (cells[i] if i < len(cells) else None) for i, name in enumerate(names)}))
            if len(rows) > MAX_ROWS:
                raise UnreadableFile(f"More than {MAX_ROWS:,} rows: split the file.")
        return Table(header=names, rows=rows)
    finally:
        workbook.close()


def _read_jsonl(content: bytes) -> Table:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UnreadableFile("The JSON lines file is not UTF-8 text.") from exc
    header: dict[str, None] = {}
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line, parse_float=Decimal)
        except (ValueError, RecursionError) as exc:
            raise UnreadableFile(f"Line {number} is not JSON.", row=number) from exc
        if not isinstance(value, dict):
            raise UnreadableFile(f"Line {number} is not a JSON object.", row=number)
        record = {_normalise(k): v for k, v in value.items()}
        header.update(dict.fromkeys(record))
        rows.append((number, record))
        if len(rows) > MAX_ROWS:
            raise UnreadableFile(f"More than {MAX_ROWS:,} rows: split the file.")
    return Table(header=list(header), rows=rows)


# --- writing ------------------------------------------------------------------------------------------


class _Echo:
    def write(self, value):
        return value


def _text(value) -> object:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _json_value(value):
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def csv_chunks(header: list[str], rows: Iterable[Iterable]) -> Iterator[str]:
    """CSV text, one line at a time (UTF-8 with a byte-order mark first, so spreadsheets read the accents)."""
    writer = csv.writer(_Echo())
    yield "\ufeff" + writer.writerow(header)
    for row in rows:
        yield writer.writerow([cell_safe(_text(cell)) for cell in row])


def jsonl_chunks(header: list[str], rows: Iterable[Iterable]) -> Iterator[str]:
    """One JSON object a line. JSON is not a spreadsheet: values are written as they are."""
    for row in rows:
        yield json.dumps(dict(zip(header, (_json_value(v) for v in row), strict=True)), ensure_ascii=False) + "\n"


def xlsx_chunks(header: list[str], rows: Iterable[Iterable], *, sheet: str = "data") -> Iterator[bytes]:
    """An XLSX workbook written row by row (openpyxl's write-only mode keeps rows on disk, not in memory), then
    streamed from the temporary file in 64 KiB pieces. Text that a spreadsheet would run is written as text."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    worksheet = workbook.create_sheet(sheet[:31])
    worksheet.append(header)
    for row in rows:
        worksheet.append([_xlsx_cell(cell) for cell in row])
    with tempfile.TemporaryFile() as handle:
        workbook.save(handle)
        handle.seek(0)
        while chunk := handle.read(65536):
            yield chunk


def _xlsx_cell(value):
    if isinstance(value, datetime):
        return value.replace(tzinfo=None) if value.tzinfo else value  # XLSX has no time zones: UTC, as stored
    if isinstance(value, str):
        # openpyxl turns any text starting with "=" into a formula; the apostrophe prefix keeps it text.
        return cell_safe(value)
    return value


def template_bytes(header: list[str], example: list, file_format: str) -> bytes:
    """A template: the header and one example row, in the format asked for."""
    if file_format == "xlsx":
        return b"".join(xlsx_chunks(header, [example], sheet="import"))
    if file_format == "jsonl":
        return "".join(jsonl_chunks(header, [example])).encode()
    return "".join(csv_chunks(header, [example])).encode()
