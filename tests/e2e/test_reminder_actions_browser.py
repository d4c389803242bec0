"""Book, snooze and waive a reminder in a real browser (Playwright driving Debian's chromium against
``gistsched serve`` and ``gistsched worker`` on the example cohort): from the worklist, through
each item's own page of actions, a booking, then shown with its appointment, and a snooze, then
off the worklist; from the patient page a
waiver refused without the day it was done elsewhere, then saved and shown once the worker has
processed it (the page reloads itself); and the actions on a phone's 390 px width with nothing
off-screen.

Screenshots go to ``test-artifacts/screenshots/`` (not committed). Skipped without
``/usr/bin/chromium`` except under ``CI=true``, where that fails.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from models.rows import ReminderRow
from tests.support.browser import (
    NAVIGATOR,
    PHONE,
    Stack,
    assert_inside,
    assert_nothing_off_screen,
    shoot,
    signed_in,
)
from tests.support.common import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(300)]

CT = "surveillance.high_adjuvant:ct:2026-04-20:2"  # P05's, due since 2026-10-20
LFT = "monitoring.imatinib:lab_lft:2026-04-20:8"  # P05's, due since 2026-11-20
P07_LFT = "monitoring.regorafenib_liver:lab_lft:2026-09-25:9"  # P07's, with missed items before it


def stored(stack: Stack, patient_id: str, key: str) -> ReminderRow:
    with stack.sessions() as session:
        row = session.scalars(
            select(ReminderRow).where(ReminderRow.patient_id == patient_id, ReminderRow.key == key)
        ).one()
        session.expunge(row)
        return row


def processed(stack: Stack, patient_id: str, key: str, check: Any) -> None:
    wait_until(
        lambda: check(stored(stack, patient_id, key)),
        timeout=60,
        interval=0.25,
        message=f"{key} processed\n{stack.log_tail()}",
    )


def test_book_and_snooze_on_the_worklist_then_waive_on_the_patient_page(stack: Stack, browser: Any) -> None:
    from playwright.sync_api import expect

    page = signed_in(browser, stack, NAVIGATOR)
    ct = page.locator(f'#due-soon tr[data-key="{CT}"]')
    ct.get_by_role("link", name="Book, snooze or waive").click()
    expect(page.locator(f'.item-facts[data-key="{CT}"]')).to_contain_text("CT scan")
    book = page.locator('form[data-action="book"]')
    book.get_by_label("Appointment date").fill("2026-12-04")
    book.get_by_label("Place").fill("Radiology B")
    shoot(page, "30-worklist-book-form")
    book.get_by_role("button", name="Save booking").click()
    expect(page).to_have_url(stack.base + "/#due-soon")
    expect(page.get_by_role("status").filter(has_text="Booking saved")).to_be_visible()
    processed(stack, "P05", CT, lambda row: row.appointment_on is not None)
    page.reload()
    expect(page.locator(f'#due-soon tr[data-key="{CT}"] .booking')).to_have_text(
        "Booked for 2026-12-04 at Radiology B; due 2026-10-20"
    )
    shoot(page, "31-worklist-booked")

    lft = page.locator(f'#due-soon tr[data-key="{LFT}"]')
    due_before = int(page.locator('[data-count="due_soon"]').inner_text())
    lft.get_by_role("link", name="Book, snooze or waive").click()
    snooze = page.locator('form[data-action="snooze"]')
    snooze.get_by_label("Off the worklist until").evaluate("box => box.removeAttribute('min')")
    snooze.get_by_label("Off the worklist until").fill("2026-11-27")  # today: the server refuses it
    snooze.get_by_role("button", name="Snooze").click()
    error = page.locator('form[data-action="snooze"] .field-error')  # back on the item's page
    expect(error).to_contain_text("choose a day after today")
    shoot(page, "32-item-snooze-error")
    snooze = page.locator('form[data-action="snooze"]')
    snooze.get_by_label("Off the worklist until").fill("2026-12-02")
    snooze.get_by_role("button", name="Snooze").click()
    expect(page).to_have_url(stack.base + "/#due-soon")
    expect(page.get_by_role("status").filter(has_text="Snoozed")).to_be_visible()
    processed(stack, "P05", LFT, lambda row: row.snoozed_until is not None)
    page.reload()
    expect(page.locator(f'#due-soon tr[data-key="{LFT}"]')).to_have_count(0)
    expect(page.locator('[data-count="due_soon"]')).to_have_text(str(due_before - 1))
    shoot(page, "33-worklist-snoozed")

    page.goto(stack.base + "/patients/P07")
    row = page.locator(f'tr[data-key="{P07_LFT}"]')
    row.locator("summary", has_text="Book, snooze or waive").click()
    waive = row.locator('form[data-action="waive"]')
    waive.get_by_label("Reason").select_option("done_elsewhere")
    waive.get_by_label("Note").fill("Done at the GP surgery")
    waive.get_by_role("button", name="Waive").click()
    error = page.locator(f'tr[data-key="{P07_LFT}"] form[data-action="waive"] .field-error')
    expect(error).to_contain_text("give the day it was done elsewhere")
    shoot(page, "34-patient-waive-error")
    waive = page.locator(f'tr[data-key="{P07_LFT}"] form[data-action="waive"]')
    waive.get_by_label("Done elsewhere on").fill("2026-11-26")
    waive.get_by_role("button", name="Waive").click()
    expect(page.get_by_role("status").filter(has_text="Waiver saved")).to_be_visible()
    waived = page.locator(f'tr[data-key="{P07_LFT}"][data-status="cancelled"]')
    expect(waived).to_contain_text("Done elsewhere, done elsewhere on 2026-11-26", timeout=60_000)
    expect(waived).to_contain_text("Note: Done at the GP surgery")
    expect(waived).to_contain_text("missed")
    shoot(page, "35-patient-waived")


def test_the_actions_fit_a_phone(stack: Stack, browser: Any) -> None:
    from playwright.sync_api import expect

    phone = {"viewport": PHONE, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}
    page = signed_in(browser, stack, NAVIGATOR, **phone)
    link = page.locator(f'#due-soon tr[data-key="{CT}"]').get_by_role("link", name="Book, snooze or waive")
    link.scroll_into_view_if_needed()
    expect(link).to_be_visible()
    assert_inside(link.bounding_box(), "/: the link to the actions")
    link.click()
    expect(page.locator(f'.item-facts[data-key="{CT}"]')).to_be_visible()
    for path, scope, opener in (
        ("item page", "#act-item", None),
        ("/patients/P05", f'tr[data-key="{CT}"]', "summary"),
    ):
        if opener:
            page.goto(stack.base + path)
            summary = page.locator(scope).locator(opener, has_text="Book, snooze or waive")
            summary.scroll_into_view_if_needed()
            expect(summary).to_be_visible()
            assert_inside(summary.bounding_box(), f"{path}: the actions")
            summary.click()
        for button in ("Save booking", "Snooze", "Waive"):
            found = page.locator(scope).get_by_role("button", name=button, exact=True)
            found.scroll_into_view_if_needed()
            expect(found).to_be_visible()
            assert_inside(found.bounding_box(), f"{path}: {button}")
        assert_nothing_off_screen(page, path + " (actions open)")
        shoot(page, "36-phone-actions-" + path.replace("/", "-").replace(" ", "-").strip("-"))
