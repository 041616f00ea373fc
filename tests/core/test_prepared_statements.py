"""core.sql.execute_prepared: hot statements planned once per database session, with the same results."""

import pytest
from django.db import DataError, IntegrityError, connection, transaction

from core.sql import execute_prepared

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _prepared_names() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM pg_prepared_statements")
        return {row[0] for row in cursor.fetchall()}


def _run(sql, params):
    with connection.cursor() as cursor:
        execute_prepared(cursor, sql, params)
        return cursor.fetchall()


def test_the_same_rows_as_the_plain_statement_and_prepared_once_per_session():
    sql = "SELECT %s::int + 1, 'a%%b', %s::text[] || ARRAY['z']"
    assert _run(sql, [1, ["x"]]) == [(2, "a%b", ["x", "z"])]
    names = _prepared_names()
    assert _run(sql, [41, []]) == [(42, "a%b", ["z"])]
    assert _prepared_names() == names  # executed again, not prepared again
    connection.close()  # a new session starts with none: prepared again on it
    assert _run(sql, [0, ["y"]]) == [(1, "a%b", ["y", "z"])]
    assert len(_prepared_names()) == 1


def test_a_failure_in_the_round_trip_that_prepares_is_recovered_from():
    sql = "SELECT 10 / %s::int"
    with pytest.raises(DataError), transaction.atomic():  # division by zero, on the first (preparing) call
        _run(sql, [0])
    assert _run(sql, [5]) == [(2,)]  # the statement's state is read back, not prepared twice
    assert _run(sql, [2]) == [(5,)]


def test_a_statement_prepared_inside_a_rolled_back_transaction_stays_usable(make_product):
    sql = "SELECT count(*) FROM inventory_product WHERE sku = %s"
    product = make_product()
    with pytest.raises(IntegrityError), transaction.atomic():
        assert _run(sql, [product.sku]) == [(1,)]
        raise IntegrityError("rolled back")
    assert _run(sql, [product.sku]) == [(1,)]


def test_sessions_keep_the_generic_plan_of_prepared_statements():
    with connection.cursor() as cursor:
        cursor.execute("SHOW plan_cache_mode")
        assert cursor.fetchone()[0] == "force_generic_plan"
