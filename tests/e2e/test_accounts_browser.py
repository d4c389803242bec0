"""The account pages in a real browser (Debian's chromium through Playwright), on the stack of
tests/e2e/test_browser.py: a navigator whose password an admin reset is taken to the
change-password page, cannot leave it until the password is changed, then reaches the worklist;
an admin sees a patient whose events came before its registration on the Unassigned page.
Screenshots go to ``test-artifacts/screenshots/``."""

from __future__ import annotations

import pytest

from scheduler.patients.processing import process_patient
from scheduler.staff.users import create_user, reset_password
from tests.support.browser import AS_OF, CHROMIUM, CHROMIUM_ARGS, NAVIGATOR, Stack, shoot
from tests.support.common import intake

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

NEW_PASSWORD = "a brand new passphrase"
ADMIN, ADMIN_PASSWORD = "ada", "admin passphrase 1"
UNREGISTERED = [
    {"event_id": "P50-dx", "patient_id": "P50", "type": "diagnosis", "occurred_on": "2025-01-10",
     "data": {"site": "stomach", "size_cm": 6}},
]  # fmt: skip


def test_a_reset_password_must_be_changed_and_admins_see_unassigned_patients(stack: Stack) -> None:
    from playwright.sync_api import expect, sync_playwright

    one_time = reset_password(stack.sessions, NAVIGATOR)
    create_user(stack.sessions, ADMIN, "admin", ADMIN_PASSWORD)
    intake(stack.sessions, UNREGISTERED, AS_OF)
    process_patient(stack.sessions, "P50", AS_OF)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(20_000)
            page.goto(stack.base + "/login")
            page.get_by_label("Username").fill(NAVIGATOR)
            page.get_by_label("Password").fill(one_time)
            page.get_by_role("button", name="Sign in").click()
            expect(page).to_have_url(stack.base + "/account/password")
            expect(page.locator("#password-forced")).to_be_visible()
            shoot(page, "10-forced-password-change")

            page.goto(stack.base + "/")  # no way around it
            expect(page).to_have_url(stack.base + "/account/password")
            page.get_by_label("Current password").fill(one_time)
            page.get_by_label("New password", exact=False).first.fill(NEW_PASSWORD)
            page.get_by_label("New password again").fill(NEW_PASSWORD)
            page.get_by_role("button", name="Change password").click()
            expect(page).to_have_url(stack.base + "/")
            expect(page.get_by_role("status").filter(has_text="Your password is changed")).to_be_visible()
            expect(page.get_by_role("link", name="Unassigned")).to_have_count(0)  # admins only
            shoot(page, "11-password-changed")

            admin = browser.new_page(viewport={"width": 1280, "height": 900})
            admin.goto(stack.base + "/login")
            admin.get_by_label("Username").fill(ADMIN)
            admin.get_by_label("Password").fill(ADMIN_PASSWORD)
            admin.get_by_role("button", name="Sign in").click()
            admin.get_by_role("link", name="Unassigned").click()
            expect(admin).to_have_url(stack.base + "/unassigned")
            expect(admin.locator("#unassigned")).to_contain_text("P50")
            shoot(admin, "12-unassigned")
        finally:
            browser.close()
