"""The navigator's day in a real browser (Playwright driving Debian's chromium against ``gistsched
serve`` and ``gistsched worker`` on the example cohort): the worklist at a glance, sorted and
exported as CSV; the week view; a note and a call; a saved result that the patient page picks up
by itself once the worker has processed it; an admin reassigning a patient with a phone number;
ending follow-up; and every screen at a phone's 390 px width with nothing off-screen.

Screenshots go to ``test-artifacts/screenshots/`` (not committed). Skipped without
``/usr/bin/chromium`` except under ``CI=true``, where that fails.
"""

from __future__ import annotations

import csv
import io
import os
import signal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from models.rows import EventRow, PatientNoteRow, PatientRow, ReminderRow
from scheduler.staff.users import create_user
from tests.support.browser import (
    AS_OF,
    NAVIGATOR,
    PHONE,
    Stack,
    assert_inside,
    assert_nothing_off_screen,
    shoot,
    signed_in,
)
from tests.support.common import wait_until
from tests.support.staff import PASSWORD

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(300)]

ADMIN = "ada"


def open_lab_reminder(stack: Stack, patient_id: str) -> ReminderRow:
    with stack.sessions() as session:
        found = session.scalars(
            select(ReminderRow).where(
                ReminderRow.patient_id == patient_id,
                ReminderRow.kind == "lab_lft",
                ReminderRow.status.in_(("due", "overdue")),
            )
        ).first()
    assert found is not None
    return found


def test_the_worklist_at_a_glance_sorted_exported_and_the_week(stack: Stack, browser: Any) -> None:
    from playwright.sync_api import expect

    page = signed_in(browser, stack, NAVIGATOR)
    overdue = page.locator("#overdue tbody tr")
    expect(overdue.first).to_be_visible()
    p07 = page.locator("#overdue tr", has=page.locator('a[href="/patients/P07"]')).first
    expect(p07).to_contain_text("overdue since")
    expect(p07.locator("[data-last-done]")).to_have_text("2026-09-25")
    expect(p07).to_contain_text("× ULN")
    expect(p07.locator(".days-overdue")).to_contain_text("days overdue")
    expect(page.locator("#alerts .alert-age").first).to_contain_text("day")
    shoot(page, "10-worklist-at-a-glance")

    page.locator("#overdue").get_by_role("link", name="Days overdue").click()
    expect(page).to_have_url(stack.base + "/?sort_overdue=days#overdue")
    expect(page.locator('#overdue th[aria-sort="ascending"]')).to_contain_text("Days overdue")
    days = [int(text.split()[0]) for text in page.locator("#overdue .days-overdue").all_inner_texts()]
    assert days == sorted(days)
    page.locator("#overdue").get_by_role("link", name="Days overdue").click()
    expect(page.locator('#overdue th[aria-sort="descending"]')).to_contain_text("Days overdue")
    shoot(page, "11-worklist-sorted")

    with page.expect_download() as info:
        page.get_by_role("link", name="Export this view as CSV").click()
    download = info.value
    assert download.suggested_filename == f"worklist-{AS_OF.isoformat()}.csv"
    rows = list(csv.DictReader(io.StringIO(Path(download.path()).read_text("utf-8-sig"))))
    exported = [int(r["days_overdue"]) for r in rows if r["section"] == "overdue"]
    assert exported == sorted(days, reverse=True), "the export is the view: same items, same order"
    assert {r["patient_id"] for r in rows} <= {"P01", "P03", "P05", "P07"}

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Week").click()
    expect(page.get_by_role("heading", name="This week and next")).to_be_visible()
    expect(page.locator(".day")).to_have_count(14)
    expect(page.locator(".day.today")).to_have_attribute("data-day", AS_OF.isoformat())
    with stack.sessions() as session:
        p07_lft = session.scalars(
            select(ReminderRow).where(
                ReminderRow.patient_id == "P07",
                ReminderRow.kind == "lab_lft",
                ReminderRow.status == "planned",
            )
        ).first()
    assert p07_lft is not None
    expect(page.locator(f'.day[data-day="{p07_lft.due_on.isoformat()}"]')).to_contain_text("P07")
    shoot(page, "12-week")


def test_notes_a_saved_result_that_reloads_itself_and_ending_follow_up(stack: Stack, browser: Any) -> None:
    from playwright.sync_api import expect

    page = signed_in(browser, stack, NAVIGATOR)
    page.goto(stack.base + "/patients/P05")
    page.get_by_label("What", exact=True).select_option("call_left_message")
    page.get_by_label("Note", exact=True).fill("Left a message about the liver tests <b>today</b>")
    page.get_by_role("button", name="Save note").click()
    expect(page).to_have_url(stack.base + "/patients/P05#notes")
    note = page.locator("#note-list li").first
    expect(note).to_contain_text("Call: left a message")
    expect(note).to_contain_text(f"{NAVIGATOR} ·")
    expect(note.locator(".note-text")).to_have_text("Left a message about the liver tests <b>today</b>")
    shoot(page, "13-patient-note")
    with stack.sessions() as session:
        assert session.scalars(select(PatientNoteRow.author)).all() == [NAVIGATOR]

    # Hold the worker, save a result: the page says it waits, then reloads by itself once processed.
    reminder = open_lab_reminder(stack, "P05")
    worker = stack.processes["worker"]
    os.killpg(worker.pid, signal.SIGSTOP)
    try:
        page.locator("#form-lab > summary").click()
        page.get_by_label("Test", exact=True).select_option("alt")
        page.get_by_label("Value", exact=True).fill("31")
        page.get_by_label("Upper limit of normal").fill("40")
        page.get_by_role("button", name="Save lab result").click()
        expect(page.locator("[data-poll]")).to_contain_text("reloads itself")
        shoot(page, "14-patient-waiting")
        # A mark on this document: a reload replaces the document, and the mark with it.
        page.evaluate("() => { window.gistWaitingMark = true; }")
    finally:
        os.killpg(worker.pid, signal.SIGCONT)
    row = page.locator(f'tr[data-key="{reminder.key}"]')
    expect(row).to_have_attribute("data-status", "completed", timeout=60_000)
    expect(page.locator("[data-poll]")).to_have_count(0)
    reloaded = page.evaluate("() => window.gistWaitingMark === undefined")
    assert reloaded, "the page reloaded itself (no reload from the test)"
    expect(page.locator("#latest-results")).to_contain_text("ALT 31 (0.8× ULN)")
    shoot(page, "15-patient-updated")

    # End follow-up: refused without the confirmation, then stored and applied.
    page.locator("#end summary").click()
    page.locator("#end").get_by_label("Reason").select_option("transferred")
    page.locator("#end-confirm").evaluate("box => box.removeAttribute('required')")
    page.get_by_role("button", name="End follow-up").click()
    expect(page.locator("#end-confirm-error")).to_contain_text("tick the box")
    page.get_by_label("I confirm that follow-up ends for this patient").check()
    page.get_by_role("button", name="End follow-up").click()
    expect(page.get_by_role("status").filter(has_text="Follow-up ended")).to_be_visible()
    wait_until(
        lambda: _is_ended(stack, "P05"), timeout=60, interval=0.25, message=f"P05 ended\n{stack.log_tail()}"
    )
    expect(page.locator("dl.facts")).to_contain_text("ended", timeout=30_000)
    expect(page.locator("#end")).to_have_count(0)
    shoot(page, "16-patient-ended")
    with stack.sessions() as session:
        event = session.scalars(select(EventRow).where(EventRow.type == "follow_up_ended")).one()
    assert event.payload["data"] == {"reason": "transferred"}


def _is_ended(stack: Stack, patient_id: str) -> bool:
    with stack.sessions() as session:
        return not session.get_one(PatientRow, patient_id).is_active


def test_an_admin_reassigns_a_patient_and_records_a_phone(stack: Stack, browser: Any) -> None:
    from playwright.sync_api import expect

    create_user(stack.sessions, ADMIN, "admin", PASSWORD)
    create_user(stack.sessions, "ben", "navigator", PASSWORD, navigator_id="nav-ben")
    page = signed_in(browser, stack, ADMIN)
    page.goto(stack.base + "/patients/P03#contact")
    page.get_by_label("Navigator", exact=True).select_option("nav-ben")
    page.get_by_label("Phone").fill("+44 20 7946 0958")
    shoot(page, "17-admin-contact-form")
    page.get_by_role("button", name="Save contact and navigator").click()
    expect(page.get_by_role("status").filter(has_text="Contact details and navigator saved")).to_be_visible()
    expect(page.locator('a.phone[href="tel:+442079460958"]')).to_be_visible(timeout=30_000)
    expect(page.locator("dl.facts")).to_contain_text("nav-ben")
    shoot(page, "18-admin-reassigned")
    nurse = signed_in(browser, stack, NAVIGATOR)
    response = nurse.goto(stack.base + "/patients/P03")
    assert response is not None
    assert response.status == 404, "P03 is ben's now"


SCREENS = ("/", "/week", "/patients", "/patients/P07", "/patients/P07/print", "/account/password")


def test_every_screen_fits_a_phone(stack: Stack, browser: Any) -> None:
    """At 390 px: the Acknowledge button and the days overdue are on screen, a section sorts from
    its own small form, and no element of the page reaches past the right edge (nothing to scroll
    sideways to)."""
    from playwright.sync_api import expect

    create_user(stack.sessions, ADMIN, "admin", PASSWORD)
    phone = {"viewport": PHONE, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}
    page = signed_in(browser, stack, NAVIGATOR, **phone)
    acknowledge = page.locator("#alerts tbody tr summary", has_text="Acknowledge").first
    acknowledge.scroll_into_view_if_needed()
    expect(acknowledge).to_be_visible()
    assert_inside(acknowledge.bounding_box(), "the Acknowledge button")
    days = page.locator("#overdue .days-overdue").first
    days.scroll_into_view_if_needed()
    expect(days).to_be_visible()
    expect(days).to_contain_text("days overdue")
    assert_inside(days.bounding_box(), "the days overdue")
    sort = page.locator("#overdue").get_by_label("Sort by")
    expect(sort).to_be_visible()  # the headings fold into the cards: sorting is a form here
    sort.select_option("-days")
    page.locator("#overdue").get_by_role("button", name="Sort").click()
    expect(page).to_have_url(stack.base + "/?sort_overdue=-days#overdue")
    shown = [int(text.split()[0]) for text in page.locator("#overdue .days-overdue").all_inner_texts()]
    assert shown == sorted(shown, reverse=True)
    acknowledge = page.locator("#alerts tbody tr summary", has_text="Acknowledge").first
    acknowledge.scroll_into_view_if_needed()
    acknowledge.click()
    expect(page.locator("#alerts tbody tr textarea").first).to_be_visible()
    assert_inside(
        page.locator("#alerts tbody tr button", has_text="Acknowledge alert").first.bounding_box(), "submit"
    )
    for path in SCREENS:
        page.goto(stack.base + path)
        assert_nothing_off_screen(page, path)
        shoot(page, "20-phone" + path.replace("/", "-").rstrip("-"))
    admin = signed_in(browser, stack, ADMIN, **phone)
    for path in ("/unassigned", "/patients/P01"):
        admin.goto(stack.base + path)
        assert_nothing_off_screen(admin, path)
    shoot(admin, "21-phone-admin-patient")
    signed_out = browser.new_context(viewport=PHONE, is_mobile=True).new_page()
    signed_out.goto(stack.base + "/login")
    assert_nothing_off_screen(signed_out, "/login")
    shoot(signed_out, "22-phone-login")
