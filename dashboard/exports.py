"""Helpers shared by every dashboard page: CSV downloads and the query string."""

from __future__ import annotations

import csv

from django.http import StreamingHttpResponse

from core.spreadsheet import cell_safe


class _Echo:
    def write(self, value):
        return value


# One rule for every writer (the exchange app's exports use it too): core/spreadsheet.py.
csv_safe = cell_safe


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
