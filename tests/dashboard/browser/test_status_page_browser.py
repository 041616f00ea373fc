"""The customer's status page in real Chromium: open the link from a rendered e-mail, cancel one unit, see the page
update; tampered and expired links; nothing of another order reachable; no CSP violation.

OMS_SAVE_SCREENSHOTS=1 also writes docs/screenshots/status-page.png (phone-sized viewport)."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from backorders.models import Backorder
from notifications.models import Notification
from notifications.rendering import notification_render
from orders.models import Order
from orders.status_links import order_status_path
from tests.orders.factories import CustomerFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOT = Path(__file__).resolve().parents[3] / "docs" / "screenshots" / "status-page.png"


@pytest.fixture
def csp_violations(page):
    seen: list[str] = []
    page.on("console", lambda message: seen.append(message.text) if "Content Security Policy" in message.text else None)
    return seen


@pytest.fixture
def order(make_product, place):
    make_product(sku="LAMP", stock=2, name="Desk lamp")
    shelf = make_product(sku="SHELF", stock=0, name="Oak shelf, 80 cm")
    shelf.substitutes.add(make_product(sku="SHELF-XL", stock=9, name="Oak shelf, 100 cm"))
    return place({"LAMP": 2, "SHELF": 3}, customer=CustomerFactory(name="Ann Example"))


def test_open_the_link_from_the_email_and_cancel_one_unit(page, live_server, order, settings, csp_violations):
    settings.OMS = {**settings.OMS, "PUBLIC_BASE_URL": live_server.url}
    email = Notification.objects.get(order=order, channel="email", event="backorder_created")
    email.rendered_at = None  # may have been rendered (and sent) at commit already, before the base URL was set
    notification_render(email)
    # The e-mail as a web-mail client would show it (a page of its own origin, so the click is a real navigation).
    page.route("http://mail.test/inbox", lambda route: route.fulfill(body=email.body_html, content_type="text/html"))
    page.goto("http://mail.test/inbox")
    with page.expect_navigation():
        page.click("a[data-status-url]")
    assert page.url.startswith(f"{live_server.url}/s/")
    shelf = page.locator("section[data-sku=SHELF]")
    assert shelf.locator("[data-count=waiting]").inner_text() == "3"
    assert "Oak shelf, 100 cm" in shelf.inner_text()  # the in-stock alternative

    shelf.locator("input[name=quantity]").fill("1")
    with page.expect_navigation():
        shelf.get_by_role("button", name="Cancel waiting units").click()
    assert page.locator("[data-done]").count() == 1, (page.url, page.content()[:4000])
    assert "are cancelled" in page.locator("[data-done]").inner_text()
    shelf = page.locator("section[data-sku=SHELF]")
    assert shelf.locator("[data-count=waiting]").inner_text() == "2"
    assert shelf.locator("[data-count=cancelled]").inner_text() == "1"
    backorder = Backorder.objects.get(order=order)
    assert backorder.quantity_cancelled == 1
    assert backorder.events.get(kind="cancelled").actor == "customer"
    assert csp_violations == []

    if os.environ.get("OMS_SAVE_SCREENSHOTS"):
        page.set_viewport_size({"width": 420, "height": 900})
        page.goto(page.url.split("?")[0])
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=SCREENSHOT, full_page=True)


def test_tampered_and_expired_links_and_other_orders(page, live_server, order, place):
    path = order_status_path(order)
    response = page.goto(f"{live_server.url}{path[:-3]}xyz")
    assert response.status == 404 and order.number not in page.content()
    other = place({"LAMP": 0 + 1}, customer=CustomerFactory(name="Somebody Else"))
    page.goto(f"{live_server.url}{order_status_path(other)}")
    assert other.number in page.content() and order.number not in page.content()
    assert "Oak shelf" not in page.content()
    Order.objects.filter(pk=order.pk).update(status="cancelled", cancelled_at=timezone.now() - timedelta(days=365))
    response = page.goto(f"{live_server.url}{path}")
    assert response.status == 410 and "expired" in page.content()
