"""Customer terms are staff-managed: staff API (with its permission), dashboard form, admin; roles."""

from __future__ import annotations

import pytest

from orders.models import CustomerTerms
from tests.orders.factories import CustomerFactory

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


def test_staff_api_sets_reads_and_deletes_customer_terms(staff_client):
    customer = CustomerFactory()
    url = f"/api/v1/customers/{customer.pk}/terms/"
    assert staff_client.get(url).status_code == 404
    response = staff_client.put(url, {"max_wait_days": 14, "sla_days": 5, "allow_partial": False}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["scope"] == "customer"
    assert (response.json()["max_wait_days"], response.json()["allow_partial"]) == (14, False)
    response = staff_client.put(url, {"sla_days": None}, format="json")  # fields left out keep their value
    assert (response.json()["max_wait_days"], response.json()["sla_days"]) == (14, None)
    assert staff_client.delete(url).status_code == 204
    assert not CustomerTerms.objects.exists()


def test_channel_default_through_the_api(staff_client, channel_key):
    url = f"/api/v1/channels/{channel_key[0].code}/terms/"
    response = staff_client.put(url, {"auto_cancel_after_days": 30}, format="json")
    assert response.status_code == 200
    assert response.json()["scope"] == "channel_default" and response.json()["channel"] == "web-shop"
    assert staff_client.put(url, {"max_wait_days": -1}, format="json").status_code == 400
    assert staff_client.put("/api/v1/channels/nope/terms/", {}, format="json").status_code == 404


def test_writes_need_the_permission_and_channels_cannot(bare_staff_client, channel_client):
    customer = CustomerFactory()
    url = f"/api/v1/customers/{customer.pk}/terms/"
    assert bare_staff_client.put(url, {"max_wait_days": 3}, format="json").status_code == 403
    assert channel_client.put(url, {"max_wait_days": 3}, format="json").status_code in (401, 403)
    assert not CustomerTerms.objects.exists()


def test_customer_service_role_may_change_terms():
    from core.roles import CUSTOMER_SERVICE
    from tests.conftest import role_group

    codenames = set(role_group(CUSTOMER_SERVICE).permissions.values_list("codename", flat=True))
    assert {"change_customerterms", "add_customerterms", "view_customerterms"} <= codenames


def test_dashboard_form_writes_terms(client, staff_user, channel_key):
    client.force_login(staff_user)
    assert client.get("/terms/").status_code == 200
    response = client.post("/terms/set/", {"channel": "web-shop", "sla_days": "7", "allow_partial": "on"})
    assert response.status_code == 303
    terms = CustomerTerms.objects.get(channel=channel_key[0])
    assert (terms.sla_days, terms.allow_partial, terms.accepts_substitutes) == (7, True, False)
    assert "web-shop" in client.get("/terms/").content.decode()


def test_dashboard_form_needs_the_permission(client, bare_staff_user, channel_key):
    client.force_login(bare_staff_user)
    assert client.post("/terms/set/", {"channel": "web-shop", "sla_days": "7"}).status_code == 403
    assert not CustomerTerms.objects.exists()


def test_admin_lists_terms(admin_client, channel_key):
    CustomerTerms.objects.create(channel=channel_key[0], sla_days=3)
    assert admin_client.get("/admin/orders/customerterms/").status_code == 200


def test_dashboard_removes_terms_with_the_permission(client, staff_user, bare_staff_user, channel_key):
    terms = CustomerTerms.objects.create(channel=channel_key[0], sla_days=3)
    client.force_login(bare_staff_user)
    assert client.post(f"/terms/{terms.pk}/delete/").status_code == 403
    assert CustomerTerms.objects.filter(pk=terms.pk).exists()
    client.force_login(staff_user)
    assert 'action="/terms/' in client.get("/terms/").content.decode()
    assert client.post(f"/terms/{terms.pk}/delete/").status_code == 303
    assert not CustomerTerms.objects.exists()
    assert client.post(f"/terms/{terms.pk}/delete/").status_code == 404
