"""The interactive API page (/api/docs) in a real browser (Debian's chromium through Playwright), on
the stack of tests/e2e/test_browser.py: every request it makes goes to this server (its Swagger UI
assets come from the package, no CDN), the Content-Security-Policy refuses nothing, it lists the
API's operations with their security, and a navigator signed in to the dashboard can try a read
from it (the session cookie), which answers as that navigator. Screenshot in
``test-artifacts/screenshots/``."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, NAVIGATOR, SCREENSHOTS, Stack
from tests.support.staff import PASSWORD

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(300)]


def test_the_api_page_works_offline_under_the_csp_and_tries_a_read(stack: Stack) -> None:
    from playwright.sync_api import expect, sync_playwright

    requested: list[str] = []
    refused: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(20_000)
            page.on("request", lambda request: requested.append(request.url))

            def console(message: Any) -> None:
                if "Content Security Policy" in message.text or "Refused to" in message.text:
                    refused.append(message.text)

            page.on("console", console)
            page.goto(stack.base + "/login")
            page.get_by_label("Username").fill(NAVIGATOR)
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            expect(page).to_have_url(stack.base + "/")

            page.goto(stack.base + "/api/docs")
            expect(page.locator(".swagger-ui .info .title")).to_contain_text("gist-scheduler")
            expect(page.get_by_role("button", name="Authorize")).to_be_visible()
            for path in ("/api/events", "/api/worklist", "/api/patients/{patient_id}", "/api/me"):
                expect(page.locator(f'.opblock-summary-path[data-path="{path}"]').first).to_be_visible()

            me = page.locator("#operations-api-get_me_api_me_get")
            me.locator(".opblock-summary").click()
            me.get_by_role("button", name="Try it out").click()
            me.get_by_role("button", name="Execute").click()
            live = me.locator(".live-responses-table")
            expect(live.locator("tbody .response-col_status").first).to_have_text("200")
            expect(live).to_contain_text(f'"username": "{NAVIGATOR}"')
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / "20-api-docs.png"), full_page=False)
        finally:
            browser.close()
    assert requested
    outside = [url for url in requested if not url.startswith(stack.base + "/")]
    assert outside == [], f"the page asked another origin: {outside}"
    assert refused == [], f"the CSP refused something: {refused}"
