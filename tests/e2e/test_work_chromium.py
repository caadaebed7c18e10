"""The task inbox and a complaint worked in a real headless Chromium: an agent claims a task,
writes what happened and closes it; a complaint is moved on, a contact logged, and closed."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hcrm_core.actors import Actor
from hcrm_core.models import AfterHoursKind, FollowUpStatus, FollowUpTask
from hcrm_core.services.complaints import file_complaint
from hcrm_core.services.opening_hours import OpeningHoursService
from hcrm_core.services.tasks import TaskService, create_task
from tests.e2e.test_console_chromium import CHROMIUM_ARGS, TIMEOUT_MS, chromium, served
from tests.support.browser import page_as
from tests.support.console import ConsoleWorld

__all__ = ["chromium", "served"]  # fixtures shared with the console test
# Set to a folder to keep screenshots of the pages (1400 and 1024 px wide).
SHOTS_ENV = "CALLCENTER_TEST_SHOTS"


async def _seed_tasks(world: ConsoleWorld) -> int:
    """A voicemail task, a survey escalation and an overdue hand-made task; returns the
    survey one's id (the one the test works)."""
    db, tz = world.server.database, world.server.settings.tz
    await OpeningHoursService(db, tz).record_request(
        AfterHoursKind.VOICEMAIL, "general", caller_number="+12125550142", patient_id=world.grace.id
    )
    async with db.transaction() as session:
        survey = await create_task(
            session,
            patient_id=world.grace.id,
            reason="Post-discharge survey: pain score 8 of 10",
            source_kind="survey",
            source_ref="attempt:1",
            priority=1,
            due_at=datetime.now(UTC) + timedelta(hours=3),
            queue="general",
            actor=Actor("dialer"),
        )
    await TaskService(db, tz).create(
        Actor.system(),
        patient_id=world.script.id,
        reason="Send the discharge letter again",
        due_at=datetime.now(UTC) - timedelta(days=1),
        queue="general",
    )
    return survey.id


async def test_agent_claims_works_and_closes_a_task(
    chromium: str, served: tuple[str, ConsoleWorld]
) -> None:
    from playwright.async_api import async_playwright

    base, world = served
    task_id = await _seed_tasks(world)
    shots = os.environ.get(SHOTS_ENV)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = await page_as(browser, base, "alice", "/", timeout_ms=TIMEOUT_MS, height=800)
            await page.goto(f"{base}/tasks?view=queue&queue=general")
            row = page.locator(f"tr[data-task='{task_id}']")
            assert "pain score 8" in await row.inner_text()
            assert "Survey" in await row.inner_text()
            if shots:
                await _shoot(page, Path(shots), "tasks-queue")
            await row.locator("button[data-claim]").click()
            await row.locator(".outcome.done", has_text="Claimed").wait_for()
            # The desk's "My tasks" panel lists it, with its one-click call.
            await page.goto(f"{base}/desk")
            mine = page.locator(f"#desk-tasks-list li[data-task='{task_id}']")
            await mine.wait_for()
            assert "pain score 8" in await mine.inner_text()
            assert await mine.locator("button", has_text="Call").count() == 1
            if shots:
                await _shoot(page, Path(shots), "desk")
            await page.goto(f"{base}/tasks?view=mine")
            row = page.locator(f"tr[data-task='{task_id}']")
            await row.locator("textarea[name=notes]").fill("Spoke to her daughter")
            await row.locator("input[name=outcome]").fill("Nurse visit booked for tomorrow")
            if shots:
                await _shoot(page, Path(shots), "tasks-mine")
            await row.locator("button[data-finish=done]").click()
            await page.locator("#no-tasks").wait_for()
        finally:
            await browser.close()
    async with world.server.database.session() as session:
        task = await session.get(FollowUpTask, task_id)
    assert task is not None and task.status is FollowUpStatus.DONE
    assert (task.notes, task.outcome) == (
        "Spoke to her daughter",
        "Nurse visit booked for tomorrow",
    )


async def test_complaint_is_moved_on_logged_and_closed(
    chromium: str, served: tuple[str, ConsoleWorld]
) -> None:
    from playwright.async_api import async_playwright

    base, world = served
    db, tz = world.server.database, world.server.settings.tz
    complaint = await file_complaint(
        db,
        Actor.system(),
        patient_id=world.grace.id,
        category="waiting_time",
        description="Waited two hours in cardiology with no news.",
        severity="high",
        timezone=tz,
    )
    await file_complaint(
        db,
        Actor.system(),
        patient_id=world.script.id,
        category="billing",
        description="Charged twice for one visit.",
        timezone=tz,
    )
    shots = os.environ.get(SHOTS_ENV)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = await page_as(browser, base, "sam", "/", timeout_ms=TIMEOUT_MS, height=800)
            # The board's follow-up tiles read the counts live.
            await page.goto(f"{base}/supervisor")
            await page.locator("#board-tasks-open", has_text="0").wait_for()
            if shots:
                await _shoot(page, Path(shots), "board")
            await page.goto(f"{base}/complaints")
            assert "Waiting time" in await page.locator("#complaints").inner_text()
            if shots:
                await _shoot(page, Path(shots), "complaints")
            await page.click(
                f"tr[data-complaint='{complaint.id}'] a[href='/complaints/{complaint.id}']"
            )
            await page.wait_for_url(f"{base}/complaints/{complaint.id}")
            await page.click("button[data-status=investigating]")
            await page.locator("#complaint-status", has_text="Investigating").wait_for()
            await page.fill(
                "#contact-add input[name=summary]", "Apologised; manager will call back"
            )
            await page.click("#contact-add button[type=submit]")
            await page.locator("#contacts li", has_text="manager will call back").wait_for()
            await page.click("button[data-status=responded]")
            await page.locator("#complaint-status", has_text="Responded").wait_for()
            await page.click("button[data-status=closed]")  # no summary yet: refused
            error = page.locator("#complaint-error")
            await error.wait_for()
            assert (await error.inner_text()).startswith("Closing summary: write")
            await page.fill("textarea[name=closing_summary]", "Clinic rota changed; apology sent.")
            if shots:
                await _shoot(page, Path(shots), "complaint-detail")
            await page.click("button[data-status=closed]")
            await page.locator("#complaint-status", has_text="Closed").wait_for()
            # The patient card lists what is still open: the billing complaint is another
            # patient's, Grace's is closed; a task added from the card shows at once.
            await page.goto(f"{base}/patients/{world.grace.id}")
            await page.locator("#patient-work").wait_for()
            assert await page.locator("#patient-complaints").count() == 0
            await page.fill("#task-add input[name=reason]", "Send the complaint reply by post")
            await page.click("#task-add button[type=submit]")
            await page.locator("#patient-tasks li", has_text="reply by post").wait_for()
            if shots:
                await _shoot(page, Path(shots), "patient-card")
        finally:
            await browser.close()


async def _shoot(page: Any, folder: Path, name: str) -> None:
    await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
    for width in (1400, 1024):
        await page.set_viewport_size({"width": width, "height": 800})
        await page.screenshot(path=str(folder / f"tasks-{name}-{width}.png"), full_page=True)
    await page.set_viewport_size({"width": 1400, "height": 800})
