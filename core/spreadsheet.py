"""Cells that a spreadsheet must show, never run (CSV/formula injection): used by every CSV and XLSX writer."""

from __future__ import annotations

# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection): "=cmd|' /C calc'!A0".
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def cell_safe(value):
    """Text that a spreadsheet would read as a formula gets a leading apostrophe (shown as text, not run); numbers,
    dates and other values are written as they are."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value
