"""The schema says exactly what the API does: schemathesis, every check, against the served schema, in-process.

Every operation of ``/api/schema/`` is exercised through the real WSGI application (URL, middleware, auth,
throttles, the problem+json handler) on the test database, which holds the demo data (``seed_demo``) so lists
return real rows. Both callers run: a staff member in the Admin role (token auth) on every operation, and a sales
channel (API key) on every operation it may use (``x-callers``; its 403 on the others is pinned per operation in
test_openapi_contract.py). Each request runs in a savepoint rolled back afterwards.

- checks: all of them (``--checks all``: status codes, content types, response headers and bodies against the
  schema, positive data accepted, negative data rejected, missing headers, unsupported methods, ignored auth, …);
- phases: examples, coverage (boundary and invalid values derived from the schema) and fuzzing, in positive and
  negative generation modes;
- derandomized (a fixed seed: every run sends the same requests), ``MAX_EXAMPLES`` fuzzed examples per operation;
- any failure fails the build. Documented exceptions only: ``EXCEPTIONS`` below (also listed in docs/api.md).
"""

from __future__ import annotations

import io
import logging

import hypothesis
import pytest
import schemathesis
from django.core.management import call_command
from django.db import transaction
from hypothesis import HealthCheck
from schemathesis import GenerationMode
from schemathesis.config import PositiveDataAcceptanceConfig

# Fuzzed examples per operation and generation mode (the coverage phase adds its own deterministic cases).
MAX_EXAMPLES = 5
SEED = 20_240_614

# (caller, "METHOD /path", check name) -> why the API may differ from what schemathesis expects there.
EXCEPTIONS: dict[tuple[str, str, str], str] = {}

# The one documented exception to schemathesis' defaults (docs/api.md, "The schema is the contract"): a valid request
# may get 422. A 422 is a business rule about what the data *means*, which no static schema can state: a
# reference that does not exist (unknown_sku, unknown_supplier, unknown_warehouse), a code already taken, a date
# relative to today (date_out_of_range: requested_date in the past, an expected date beyond the horizon).
POSITIVE_DATA_ACCEPTED_STATUSES = ["2xx", "3xx", "401", "403", "404", "409", "422", "429", "5xx"]


def served_schema() -> dict:
    """The schema ``/api/schema/`` serves (test_the_schema_tested_is_the_one_served pins that)."""
    from core.management.commands.api_reference import current_schema

    return current_schema()


def load_schema():
    from config.wsgi import application

    schema = schemathesis.openapi.from_dict(served_schema())
    schema.app = application
    schema.config.seed = SEED
    schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
    schema.config.checks.positive_data_acceptance = PositiveDataAcceptanceConfig(
        expected_statuses=POSITIVE_DATA_ACCEPTED_STATUSES
    )
    return schema


HYPOTHESIS_SETTINGS = hypothesis.settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=False,
    suppress_health_check=list(HealthCheck),
    # No shrinking: the first failing request is reported as sent (shrinking costs minutes, teaches little here).
    phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
)


@pytest.fixture
def in_process_wsgi():
    """The WSGI handler closes the database connection after each request (``close_old_connections``), which
    would close the test's transaction; Django's own test client disconnects it the same way."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def demo_data(db, in_process_wsgi):
    call_command("seed_demo", stdout=io.StringIO())


@pytest.fixture
def staff_headers(demo_data, django_user_model):
    from rest_framework.authtoken.models import Token

    from tests.conftest import role_group

    user = django_user_model.objects.create_user("st-admin", "st-admin@example.com", "x", is_staff=True)
    user.groups.add(role_group("Admin"))
    return {"Authorization": f"Token {Token.objects.create(user=user).key}"}


@pytest.fixture
def channel_headers(demo_data):
    from orders.services import api_key_create

    _, raw = api_key_create(channel_code="web-shop", name="schemathesis")
    return {"Authorization": f"Api-Key {raw}"}


def run_schemathesis(caller: str, headers: dict[str, str]) -> tuple[int, list[str]]:
    """Every operation the caller may use (``x-callers``); returns (operations run, failures not covered by
    EXCEPTIONS). A channel on a staff-only operation only ever gets 403 before its input is read: that is
    tested operation by operation in tests/config/test_openapi_contract.py instead of fuzzed here."""
    from schemathesis.generation.feedback import FeedbackSources
    from schemathesis.pytest._test_builder import build_operation_test

    schema = load_schema()
    # Thousands of expected 4xx answers: Django's per-request warnings would cost more than the requests.
    logging.getLogger("django.request").setLevel(logging.ERROR)
    failures: list[str] = []
    operations = 0
    allowed = {
        f"{method.upper()} {path}"
        for path, item in schema.raw_schema["paths"].items()
        for method, operation in item.items()
        if caller in operation.get("x-callers", [])
    }
    for result in schema.get_all_operations():
        operation = result.ok()
        label = f"{operation.method.upper()} {operation.path}"
        if label not in allowed:
            continue
        operations += 1

        def check(case):
            # Each request in a savepoint rolled back afterwards: examples stay independent, and a server error
            # that aborts the transaction is reported for its own operation, not for every one after it.
            savepoint = transaction.savepoint()
            try:
                case.call_and_validate(headers=headers)
            finally:
                transaction.savepoint_rollback(savepoint)

        test = build_operation_test(
            config=schema.config,
            operation=operation,
            test_func=check,
            given_kwargs={},
            feedback=FeedbackSources(),
            explicit_settings=HYPOTHESIS_SETTINGS,
        )
        try:
            test()
        except BaseException as exc:  # schemathesis' FailureGroup is a BaseExceptionGroup
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
            message = str(exc)
            excepted = [
                reason
                for (who, op, name), reason in EXCEPTIONS.items()
                if who == caller and op == label and name in message
            ]
            if not excepted:
                failures.append(f"--- {caller} {label}\n{message}")
    return operations, failures


@pytest.mark.postgres
def test_schemathesis_every_operation_as_staff_and_as_a_channel(staff_headers, channel_headers):
    """One test for both callers: the demo data is loaded once (it is most of the set-up time)."""
    failures = []
    for caller, headers in (("staff", staff_headers), ("channel", channel_headers)):
        operations, caller_failures = run_schemathesis(caller, headers)
        assert operations >= (50 if caller == "staff" else 16)
        failures += caller_failures
    assert not failures, f"{len(failures)} operations fail:\n" + "\n".join(failures)


@pytest.mark.django_db
def test_the_schema_tested_is_the_one_served(anon_client):
    response = anon_client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    assert response.json() == served_schema()
