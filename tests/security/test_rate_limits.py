"""Rate limits: login failures (dashboard and admin) per username and per address, API calls per key, and key
guessing per address. Each answer past a limit is refused before anything is written."""

import pytest
from django.core.cache import cache

from orders.models import Order

pytestmark = pytest.mark.django_db

ORDERS = "/api/v1/orders/"
PASSWORD = "correct horse battery staple"


@pytest.fixture
def staff_login(django_user_model):
    return django_user_model.objects.create_user(
        "clerk", "clerk@example.com", PASSWORD, is_staff=True, is_superuser=True
    )


def _logged_in(client) -> bool:
    return "_auth_user_id" in client.session


@pytest.mark.parametrize("login_url", ["/accounts/login/", "/admin/login/"], ids=["dashboard", "admin"])
def test_25_wrong_passwords_lock_the_login_even_for_the_right_one(client, staff_login, login_url):
    answers = [client.post(login_url, {"username": "clerk", "password": f"wrong-{i}"}).status_code for i in range(25)]
    assert answers[0] == 200  # the form again, with its error
    assert 429 in answers
    response = client.post(login_url, {"username": "clerk", "password": PASSWORD})
    assert response.status_code == 429
    assert not _logged_in(client)


def test_the_lockout_follows_the_username_across_addresses(client, staff_login):
    for i in range(25):
        client.post("/accounts/login/", {"username": "clerk", "password": "nope"}, REMOTE_ADDR=f"10.0.0.{i + 1}")
    response = client.post("/accounts/login/", {"username": "clerk", "password": PASSWORD}, REMOTE_ADDR="10.9.9.9")
    assert response.status_code == 429
    assert not _logged_in(client)


def test_the_lockout_follows_the_address_across_usernames(client, staff_login):
    for i in range(25):
        client.post("/accounts/login/", {"username": f"guess-{i}", "password": "nope"}, REMOTE_ADDR="10.1.1.1")
    response = client.post("/accounts/login/", {"username": "clerk", "password": PASSWORD}, REMOTE_ADDR="10.1.1.1")
    assert response.status_code == 429
    assert not _logged_in(client)


def test_a_successful_login_resets_the_count(client, staff_login, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        client.post("/accounts/login/", {"username": "clerk", "password": "nope"})
    assert client.post("/accounts/login/", {"username": "clerk", "password": PASSWORD}).status_code == 302
    client.logout()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        client.post("/accounts/login/", {"username": "clerk", "password": "nope"})
    assert client.post("/accounts/login/", {"username": "clerk", "password": PASSWORD}).status_code == 302


def test_40_bad_api_keys_from_one_address_are_throttled(client, channel_key, rates, problem):
    rates(bad_api_key="20/hour")  # hour windows: a slow run never straddles a reset
    answers = [client.get(ORDERS, HTTP_AUTHORIZATION=f"Api-Key guessed-key-{i}").status_code for i in range(40)]
    assert answers.count(401) == 20
    assert answers[20:] == [429] * 20
    refused = client.get(ORDERS, HTTP_AUTHORIZATION="Api-Key guessed-key-41")
    problem(refused, 429, "throttled")
    assert 0 < int(refused["Retry-After"]) <= 3600
    # Another address is not affected.
    ok = client.get(ORDERS, HTTP_AUTHORIZATION=f"Api-Key {channel_key[1]}", REMOTE_ADDR="10.2.2.2")
    assert ok.status_code == 200


def test_30_orders_from_one_key_past_its_rate_are_refused_and_not_written(
    channel_client, other_channel_client, make_product, rates, problem
):
    rates(channel="10/hour")  # hour windows: a slow run never straddles a reset
    make_product(sku="A-1", stock=100)

    def order(client, i):
        return client.post(
            ORDERS,
            {
                "customer": {"external_id": f"c-{i}", "email": f"c{i}@example.com", "name": "C"},
                "lines": [{"sku": "A-1", "quantity": 1}],
            },
            format="json",
        )

    answers = [order(channel_client, i) for i in range(30)]
    assert [a.status_code for a in answers] == [201] * 10 + [429] * 20
    body = problem(answers[-1], 429, "throttled")
    assert "Expected available in" in body["detail"]
    assert 0 < int(answers[-1]["Retry-After"]) <= 3600
    assert Order.objects.count() == 10
    # The budget is per key: another channel's key still has its own.
    assert order(other_channel_client, 99).status_code == 201


def test_staff_and_anonymous_callers_have_their_own_budgets(staff_client, anon_client, rates, problem):
    rates(staff="3/hour", anon="2/hour")
    assert [staff_client.get("/api/v1/products/").status_code for _ in range(4)] == [200, 200, 200, 429]
    # Anonymous callers reach only public endpoints (the rest answer 401 before any throttle): the schema.
    assert [anon_client.get("/api/schema/?format=json").status_code for _ in range(2)] == [200, 200]
    problem(anon_client.get("/api/schema/?format=json"), 429, "throttled")


def test_rates_come_from_the_environment():
    from core.throttling import parse_rate

    assert parse_rate("600/min") == (600, 60)
    assert parse_rate("5/s") == (5, 1)
    assert parse_rate(None) is None
    cache.clear()
