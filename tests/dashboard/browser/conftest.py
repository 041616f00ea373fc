"""Browser tests: Playwright (sync API) drives Debian's Chromium against pytest-django's live_server.

Never downloads a browser. Skipped only when /usr/bin/chromium is missing and OMS_REQUIRE_BROWSER is
unset; CI sets OMS_REQUIRE_BROWSER, so there a missing browser fails the run instead of hiding it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Playwright runs an asyncio loop in this thread; Django's ORM calls from the test body are still sync.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]  # fmt: skip


def pytest_collection_modifyitems(config, items):
    if Path(CHROMIUM).exists() or os.environ.get("OMS_REQUIRE_BROWSER"):
        return
    skip = pytest.mark.skip(reason=f"{CHROMIUM} is not installed (set OMS_REQUIRE_BROWSER=1 to make this an error)")
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"OMS_REQUIRE_BROWSER is set but {CHROMIUM} is missing")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1366, "height": 900}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


@pytest.fixture
def login(live_server, page):
    def sign_in(username: str, password: str):
        page.goto(f"{live_server.url}/accounts/login/")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", password)
        with page.expect_navigation():  # the POST must finish before the test goes on
            page.click("button[type=submit]")
        return page

    return sign_in
