"""``core.sql_arrays.array_literal`` spells arrays PostgreSQL reads back as the same values: ids, numbers, dates, texts
that need quoting, and NULLs, in all of its paths (no texts, or only plain words: joined at once; other texts quoted
one by one)."""

from __future__ import annotations

from datetime import date

import pytest
from django.db import connection

from core.sql_arrays import array_literal

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


@pytest.mark.parametrize(
    ("values", "cast"),
    [
        ([1, None, 3, 2**40], "bigint[]"),
        ([date(2026, 12, 3), None, date(1999, 1, 31)], "date[]"),
        ([0.9, None, 1.0, 1 / 3, 1e-7], "float8[]"),
        (["purchase_order", None, "a b", 'say "hi"', "back\\slash", "NULL", "None", "{x,y}", ""], "text[]"),
        (["purchase_order", "lead_time", "none"], "text[]"),
        (["open", "Null", "x"], "text[]"),
        (["null"], "text[]"),
        ([], "bigint[]"),
    ],
)
def test_postgresql_reads_back_the_same_values(values, cast):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT %s::{cast}", [array_literal(values)])
        assert cursor.fetchone()[0] == values
    assert array_literal(iter(values)) == array_literal(values)
