"""Save screenshots of the dashboard's main pages to docs/screenshots/ (Playwright + Debian's Chromium).

Usage: run a server with demo data (`make run`: it prints the URL, the port may differ from 8000), then
    python bench/screenshots.py --base http://127.0.0.1:8000 --user admin --password admin
"""

from __future__ import annotations

import argparse
from pathlib import Path

from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]  # fmt: skip
OUT = Path(__file__).resolve().parent.parent / "docs" / "screenshots"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", default="http://127.0.0.1:8000")
    parser.add_argument("--user", default="admin")
    parser.add_argument("--password", default="admin")
    parser.add_argument("--only", help="one screenshot of the list below, e.g. planning.png")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        page.goto(f"{args.base}/accounts/login/")
        page.screenshot(path=OUT / "login.png")
        page.fill("input[name=username]", args.user)
        page.fill("input[name=password]", args.password)
        page.click("button[type=submit]")
        page.wait_for_selector(".kpi")
        shots = {
            "overview.png": "/?days=30",
            "queue.png": "/backorders/",
            "shortages.png": "/shortages/",
            "suppliers.png": "/suppliers/",
            "products.png": "/products/",
            "planning.png": "/planning/",
        }
        for name, path in shots.items():
            if args.only and name != args.only:
                continue
            page.goto(args.base + path)
            page.screenshot(path=OUT / name, full_page=True)
        if args.only:
            browser.close()
            return
        page.goto(args.base + "/backorders/")
        first = page.locator("table.queue tbody tr a").first
        first.click()
        page.wait_for_selector(".timeline, .empty")
        page.screenshot(path=OUT / "backorder-detail.png", full_page=True)
        page.goto(args.base + "/products/")
        page.locator("table tbody tr a").first.click()
        page.wait_for_selector(".chart")
        page.screenshot(path=OUT / "product.png", full_page=True)
        tablet = browser.new_page(viewport={"width": 820, "height": 1180})
        tablet.context.add_cookies(page.context.cookies())
        tablet.goto(args.base + "/")
        tablet.screenshot(path=OUT / "overview-tablet.png", full_page=True)
        browser.close()
    print(f"screenshots written to {OUT}")


if __name__ == "__main__":
    main()
