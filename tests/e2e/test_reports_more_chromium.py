"""The phone menu, campaign and follow-up report pages in a real headless Chromium.

The real console (no Asterisk) with the seeded day of tests/support/report_more_data.py: a
supervisor opens the IVR report, moves to the other report pages by their menu and sees
their charts and figures. ``CALLCENTER_SHOTS_DIR`` set: screenshots at 1400 and 1024 px.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from hcrm_core.models import User
from tests.e2e.test_console_chromium import CHROMIUM_ARGS, TIMEOUT_MS, chromium  # noqa: F401
from tests.support.browser import log_in, screenshots, serve_console
from tests.support.console import ConsoleWorld, start_console_world
from tests.support.report_more_data import DAY, seed_more_reports
from web_console.app import create_app


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[tuple[str, ConsoleWorld]]:
    world = await start_console_world(tmp_path / "data")
    async with world.server.database.session() as session:
        bob = await session.scalar(select(User.id).where(User.username == "agent1"))
    assert bob is not None
    await seed_more_reports(
        world.server.database,
        world.server.settings.booking_policy(),
        alice=world.agent_id,
        bob=bob,
        with_appointments=False,
    )
    try:
        async with serve_console(create_app(world.server.console_deps())) as base:
            yield base, world
    finally:
        await world.server.stop()


async def test_ivr_campaign_and_followup_pages(chromium, site) -> None:  # noqa: F811
    from playwright.async_api import async_playwright

    base, _ = site
    shots = os.environ.get("CALLCENTER_SHOTS_DIR")
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(TIMEOUT_MS)
            await log_in(page, base, "sam", "/reports/ivr")
            await page.fill("input[name=from]", DAY)
            await page.fill("input[name=to]", DAY)
            await page.select_option("select[name=by]", "hour")
            await page.click("#report-form button[type=submit]")
            await page.wait_for_selector("#ivr-report svg.chart rect[fill='#c62828']")
            assert await page.text_content("#ivr-totals .hung-up") == "4"
            assert (
                await page.text_content('#ivr-step-totals tr[data-step="main-menu"] .hung-up')
                == "2"
            )
            await screenshots(page, shots, "h5-reports-ivr")

            await page.click(".report-nav >> text=Campaigns")
            await page.wait_for_selector("#campaign-report svg.chart")
            dialled = '#campaign-totals tr[data-attempt="all"] .dialled'
            assert await page.text_content(dialled) == "6"  # Discharge calls, first by name
            await screenshots(page, shots, "h5-reports-campaigns")

            await page.click(".report-nav >> text=Complaints and tasks")
            await page.wait_for_selector("#complaint-report svg.chart")
            # The day's complaints as they were at its end: all four still open.
            assert await page.text_content("#complaint-totals .open") == "4"
            assert await page.text_content("#task-totals .created") == "9"
            await screenshots(page, shots, "h5-reports-followups")
        finally:
            await browser.close()
