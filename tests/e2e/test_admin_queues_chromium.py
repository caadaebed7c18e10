"""An admin creates a queue in a real headless Chromium; an agent marks a patient VIP from the
card (the card's script saves the flags over the API under the console's strict CSP)."""

from __future__ import annotations

from hcrm_core.models import Patient
from tests.e2e.test_console_chromium import CHROMIUM_ARGS, TIMEOUT_MS, chromium, served
from tests.support.browser import page_as
from tests.support.console import ConsoleWorld

__all__ = ["chromium", "served"]  # fixtures shared with the console test


async def test_admin_creates_a_queue_and_an_agent_flags_a_vip(
    chromium: str, served: tuple[str, ConsoleWorld]
) -> None:
    from playwright.async_api import async_playwright

    base, world = served
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = await page_as(browser, base, "ada", "/", timeout_ms=TIMEOUT_MS, height=1000)
            await page.click("#manage-menu summary")
            await page.click("nav >> text=Queues")
            await page.wait_for_url(f"{base}/admin/queues")
            assert await page.locator("#queues tbody tr").count() == 2

            await page.click("#new summary")
            form = page.locator("#new-queue")
            await form.locator("input[name=name]").fill("results")
            await form.locator("input[name=display_name]").fill("Test results")
            await form.locator("select[name=menu_digit]").select_option("3")
            await form.locator("input[name=everyone]").uncheck()
            await form.locator("button[type=submit]").click()
            error = page.locator("#members-error")
            await error.wait_for()
            assert "needs agents, skills or everyone" in (await error.text_content() or "")
            form = page.locator("#new-queue")
            assert await form.locator("input[name=name]").input_value() == "results"
            await form.locator("input[name=agents]").first.check()
            await form.locator("button[type=submit]").click()
            await page.wait_for_selector("#notice >> text=Queue results created.")
            assert "Test results" in (await page.text_content("h1") or "")

            await page.goto(f"{base}/patients/{world.grace.id}")
            card = page.locator("#patient-priority")
            await card.locator("input[name=vip]").check()
            await card.locator("button[type=submit]").click()
            await page.wait_for_selector("#patient-priority-status >> text=Saved.")
        finally:
            await browser.close()
    async with world.server.database.session() as session:
        grace = await session.get(Patient, world.grace.id)
        assert grace is not None and grace.vip
