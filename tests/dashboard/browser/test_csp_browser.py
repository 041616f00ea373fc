"""Under the Content-Security-Policy, the browser refuses nothing the dashboard or the API docs need."""

from __future__ import annotations

import pytest

from tests.conftest import role_group

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def csp_violations(page):
    seen: list[str] = []
    page.on("console", lambda message: seen.append(message.text) if "Content Security Policy" in message.text else None)
    return seen


@pytest.fixture
def staff(django_user_model):
    user = django_user_model.objects.create_user("planner", "planner@example.com", "planner-pw", is_staff=True)
    user.groups.add(role_group("Admin"))  # the tests work the queue: priority and cancel
    return user


def test_dashboard_pages_and_controls_work_under_the_policy(
    login, staff, make_product, place, live_server, csp_violations
):
    make_product(sku="CHAIR")
    place({"CHAIR": 3})
    page = login("planner", "planner-pw")
    for path in ("/", "/backorders/", "/shortages/", "/planning/", "/suppliers/", "/products/", "/admin/"):
        page.goto(f"{live_server.url}{path}")
    # The select-all box and the auto-submitting filters are script from dashboard.js, not inline handlers.
    page.goto(f"{live_server.url}/backorders/")
    page.check("input[aria-label='Select all']")
    assert page.locator("input[name=ids]").evaluate_all("boxes => boxes.every(b => b.checked)")
    page.locator("select[name=sort]").select_option(index=1)
    page.wait_for_url("**sort=*")
    page.goto(f"{live_server.url}/planning/")
    page.check("input[name=reorder_now]")
    page.wait_for_url("**reorder_now=1*")
    assert csp_violations == []


@pytest.mark.parametrize("path, ready", [("/api/docs/", ".swagger-ui .info"), ("/api/redoc/", ".api-content")])
def test_api_docs_render_offline_under_the_policy(page, live_server, csp_violations, path, ready):
    page.route(
        "**/*", lambda route: route.abort() if not route.request.url.startswith(live_server.url) else route.continue_()
    )
    page.goto(f"{live_server.url}{path}")
    page.wait_for_selector(ready)
    # Redoc's "powered by" footer points at its CDN logo: the policy blocks it, which is the point; nothing else.
    assert [v for v in csp_violations if "cdn.redoc.ly" not in v] == []
