"""Helpers shared by every dashboard page: CSV downloads and the query string."""

from __future__ import annotations

import csv

from django.http import StreamingHttpResponse


class _Echo:
    def write(self, value):
        return value


# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection): "=cmd|' /C calc'!A0".
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value):
    """Text that a spreadsheet would read as a formula gets a leading apostrophe (shown as text, not run); numbers,
    dates and other values are written as they are."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def csv_response(filename: str, rows):
    """Stream rows as a CSV download (constant memory, whatever the number of rows). Every text cell is neutralised
    against formula injection (``csv_safe``): the values come from customers and channels."""
    writer = csv.writer(_Echo())
    response = StreamingHttpResponse(
        (writer.writerow([csv_safe(cell) for cell in row]) for row in rows), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def wants_csv(request) -> bool:
    return request.GET.get("format") == "csv"


def search_text(request, key: str = "q") -> str:
    """A free-text box's value, stripped, without NUL characters (which PostgreSQL refuses in a string; the
    filter forms reject them through Django's form fields, the hand-read boxes drop them here)."""
    return (request.GET.get(key) or "").replace("\x00", "").strip()


def query_without(request, *keys: str) -> str:
    """The current query string minus ``keys`` (for pagination, sort and export links)."""
    params = request.GET.copy()
    for key in keys:
        params.pop(key, None)
    return params.urlencode()
