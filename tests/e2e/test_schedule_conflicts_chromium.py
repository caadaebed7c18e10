"""A supervisor moves a booking a leave hit, with one click, in a real headless Chromium."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from tests.e2e.test_console_chromium import CHROMIUM_ARGS, TIMEOUT_MS, chromium, served
from tests.support.browser import page_as
from tests.support.console import ConsoleWorld
from tests.support.slot_clock import grace_on_leave

__all__ = ["chromium", "served"]  # fixtures shared with the console test
# Set to a folder to keep screenshots of the page (1400 and 1024 px wide).
SHOTS_ENV = "CALLCENTER_TEST_SHOTS"


async def test_supervisor_moves_a_conflict_with_one_click(
    chromium: str, served: tuple[str, ConsoleWorld]
) -> None:
    from playwright.async_api import async_playwright

    base, world = served
    appointment = await grace_on_leave(world)
    shots = os.environ.get(SHOTS_ENV)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = await page_as(browser, base, "sam", "/", timeout_ms=TIMEOUT_MS, height=700)
            await page.goto(f"{base}/admin/schedule-conflicts")
            row = page.locator(f"tr[data-appointment='{appointment.id}']")
            assert "Grace Hopperton" in await row.inner_text()
            if shots:
                await _shoot(page, Path(shots), "schedule-conflicts")
            await row.locator("button[data-move=doctor]").click()
            outcome = row.locator(".outcome.done")
            await outcome.wait_for()
            assert (await outcome.inner_text()).startswith("Moved to ")
            assert await row.locator("button").count() == 0
            if shots:
                await _shoot(page, Path(shots), "schedule-conflicts-moved")
        finally:
            await browser.close()


async def _shoot(page: object, folder: Path, name: str) -> None:
    await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
    for width in (1400, 1024):
        await page.set_viewport_size({"width": width, "height": 700})  # type: ignore[attr-defined]
        await page.screenshot(path=str(folder / f"{name}-{width}.png"), full_page=True)  # type: ignore[attr-defined]
