"""The dashboard in a real browser (style.md "Browser tests drive the dashboard in Debian's chromium
with Playwright"): a ``gistsched serve`` and a ``gistsched worker`` process on one SQLite file and
the embedded broker, the example cohort stored, and a navigator who signs in, opens a patient with
a blood test due, records the result through the form and sees the reminder completed once the
worker has processed it. Screenshots go to ``test-artifacts/screenshots/``.

Needs ``/usr/bin/chromium`` (Debian's package; no ``playwright install``): skipped without it,
except when ``CI=true``, where it fails.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from models.rows import EventRow, PatientRow, ReminderRow, UserRow
from notifications.labels import label
from scheduler.staff.access import Principal
from scheduler.staff.worklist import worklist
from tests.support.browser import (
    AS_OF,
    CHROMIUM,
    CHROMIUM_ARGS,
    NAVIGATOR,
    NAVIGATOR_ID,
    SCREENSHOTS,
    Stack,
)
from tests.support.common import (
    wait_until,
)
from tests.support.staff import PASSWORD

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(300)]

LAB_RESULTS = {  # reminder kind → (test, value, uln) of a normal result that fulfils it
    "lab_lft": ("alt", "31", "40"),
    "lab_cbc": ("hemoglobin", "13.5", ""),
    "lab_tsh": ("tsh", "2.1", ""),
}


def lab_reminder_due(sessions: sessionmaker[Session]) -> ReminderRow:
    """An open blood-test reminder (due or overdue) of one of the navigator's patients."""
    with sessions() as session:
        found = session.scalars(
            select(ReminderRow)
            .join(PatientRow, PatientRow.patient_id == ReminderRow.patient_id)
            .where(
                PatientRow.navigator_id == NAVIGATOR_ID,
                ReminderRow.kind.in_(sorted(LAB_RESULTS)),
                ReminderRow.status.in_(("due", "overdue")),
            )
            .order_by(ReminderRow.due_on, ReminderRow.patient_id)
        ).first()
    assert found is not None, "the cohort has no open blood test for the navigator"
    return found


def reminder_status(sessions: sessionmaker[Session], reminder_id: int) -> str:
    with sessions() as session:
        row = session.get(ReminderRow, reminder_id)
        assert row is not None
        return row.status


def expected_counts(sessions: sessionmaker[Session]) -> dict[str, int]:
    with sessions() as session:
        user_id = session.scalar(select(UserRow.id).where(UserRow.username == NAVIGATOR))
        assert user_id is not None
        found = worklist(session, Principal(user_id, NAVIGATOR, "navigator", NAVIGATOR_ID), AS_OF)
    counts: dict[str, int] = found["counts"]
    return counts


def test_a_navigator_records_a_blood_test_and_sees_the_reminder_completed(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    from playwright.sync_api import expect, sync_playwright

    reminder = lab_reminder_due(stack.sessions)
    patient_id, key = reminder.patient_id, reminder.key
    test, value, uln = LAB_RESULTS[reminder.kind]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shots: list[Path] = []

    def shoot(page: Any, name: str) -> None:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        shots.append(path)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(20_000)

            # Signed out: the dashboard sends us to the sign-in form.
            page.goto(stack.base + "/")
            expect(page).to_have_url(stack.base + "/login")
            expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
            shoot(page, "01-sign-in")
            page.get_by_label("Username").fill(NAVIGATOR)
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()

            # The worklist, counts first.
            expect(page).to_have_url(stack.base + "/")
            expect(page.get_by_role("heading", name="Worklist", exact=True)).to_be_visible()
            for name, count in expected_counts(stack.sessions).items():
                expect(page.locator(f'[data-count="{name}"]')).to_have_text(str(count))
            expect(page.get_by_text(f"Signed in as {NAVIGATOR}")).to_be_visible()
            shoot(page, "02-worklist")

            # The patient, from the worklist when it lists them.
            link = page.locator(f'a[href="/patients/{patient_id}"]')
            if link.count():
                link.first.click()
            else:
                page.goto(f"{stack.base}/patients/{patient_id}")
            expect(page).to_have_url(f"{stack.base}/patients/{patient_id}")
            row = page.locator(f'tr[data-key="{key}"]')
            expect(row).to_have_attribute("data-status", reminder.status)
            expect(row).to_contain_text(label(reminder.kind).summary)
            shoot(page, "03-patient")

            # Record the result through the lab form.
            page.locator("#form-lab > summary").click()
            expect(page.locator("#lab-occurred_on")).to_have_value(AS_OF.isoformat())
            page.get_by_label("Test", exact=True).select_option(test)
            page.get_by_label("Value", exact=True).fill(value)
            if uln:
                page.get_by_label("Upper limit of normal").fill(uln)
            page.get_by_role("button", name="Save lab result").click()
            expect(page).to_have_url(f"{stack.base}/patients/{patient_id}")
            expect(
                page.get_by_role("status").filter(has_text="Saved; the plan updates in a few seconds")
            ).to_be_visible()
            shoot(page, "04-saved")

            # The worker processes the event; the page then shows the reminder completed.
            wait_until(
                lambda: reminder_status(stack.sessions, reminder.id) == "completed",
                timeout=60,
                interval=0.25,
                message=f"the worker to complete {key}\n{stack.log_tail()}",
            )
            page.reload()
            row = page.locator(f'tr[data-key="{key}"]')
            expect(row).to_have_attribute("data-status", "completed")
            expect(row.locator(".status")).to_have_text("Completed")
            expect(page.get_by_text("waiting for processing")).to_have_count(0)
            row.scroll_into_view_if_needed()
            shoot(page, "05-completed")
        finally:
            browser.close()

    with stack.sessions() as session:
        stored = session.scalars(select(EventRow).where(EventRow.event_id.like("web-%"))).one()
    assert stored.type == "lab_result"
    assert stored.processed_at is not None
    with capsys.disabled():
        print("\nscreenshots:", *(str(path) for path in shots), sep="\n  ")
