"""A supervisor keeps a queue's week and a holiday on /admin/hours in a real headless Chromium
(the page's script copies Monday to the weekdays under the console's strict CSP)."""

from __future__ import annotations

from datetime import date, timedelta

from tests.e2e.test_console_chromium import CHROMIUM_ARGS, TIMEOUT_MS, chromium, served
from tests.support.browser import page_as
from tests.support.console import ConsoleWorld

__all__ = ["chromium", "served"]  # fixtures shared with the console test


async def test_a_supervisor_sets_weekday_hours_and_a_holiday(
    chromium: str, served: tuple[str, ConsoleWorld]
) -> None:
    from playwright.async_api import async_playwright

    base, _world = served
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = await page_as(browser, base, "sam", "/", timeout_ms=TIMEOUT_MS, height=1000)
            menu = page.locator("#manage-menu")
            # The Hospital menu closes on a click elsewhere and on Escape.
            await page.click("#manage-menu summary")
            assert await menu.get_attribute("open") is not None
            await page.click("main", position={"x": 5, "y": 5})
            assert await menu.get_attribute("open") is None, "menu stayed open after a click away"
            await page.click("#manage-menu summary")
            await page.keyboard.press("Escape")
            assert await menu.get_attribute("open") is None, "menu stayed open after Escape"
            await page.click("#manage-menu summary")
            await page.click("nav >> text=Hours")
            await page.wait_for_url(f"{base}/admin/hours")
            row = page.locator('#hours tr[data-queue="appointments"]')
            assert "Always open" in (await row.text_content() or "")

            await page.click("#edit-appointments summary")
            form = page.locator("#edit-appointments .week-form")
            await form.locator("input[name=monday]").fill("08:00-18:00")
            await form.locator(".copy-weekdays").click()
            assert await form.locator("input[name=friday]").input_value() == "08:00-18:00"
            await form.locator("button[type=submit]").click()
            await page.wait_for_selector("#notice >> text=Hours of appointments saved")
            cells = page.locator('#hours tr[data-queue="appointments"] td')
            assert (await cells.nth(1).text_content() or "").strip() == "08:00–18:00"
            assert (await cells.nth(6).text_content() or "").strip() == "Closed"  # Saturday

            day = (date.today() + timedelta(days=40)).isoformat()
            await page.fill("#holiday-day", day)
            await page.fill("#holiday-name", "Staff training day")
            await page.click("#add-holiday button[type=submit]")
            await page.wait_for_selector("#notice >> text=Holiday added: Staff training day")
            page.on("dialog", lambda dialog: dialog.accept())
            await page.click("#holidays .remove-holiday button")
            await page.wait_for_selector("#notice >> text=Holiday removed.")
        finally:
            await browser.close()
