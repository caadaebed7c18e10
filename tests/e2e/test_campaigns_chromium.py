"""A supervisor runs a campaign from the console in a real headless Chromium (Debian's)."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.test_console_chromium import CHROMIUM_ARGS, TIMEOUT_MS, chromium, served
from tests.support.browser import log_in
from tests.support.console import ConsoleWorld

__all__ = ["chromium", "served"]  # fixtures shared with the console test


async def test_supervisor_creates_starts_stops_and_exports(
    chromium: str, served: tuple[str, ConsoleWorld], tmp_path: Path
) -> None:
    from playwright.async_api import async_playwright

    base, _world = served
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(accept_downloads=True)
            page.set_default_timeout(TIMEOUT_MS)
            # An admin: settings (the targets below) are given by admins only, even at creation.
            await log_in(page, base, "ada", "/")
            await page.click("nav >> text=Campaigns")
            await page.wait_for_url(f"{base}/campaigns")

            form = page.locator("#new-campaign")
            await form.locator("input[name=name]").fill("Diabetes <i>check</i>")
            await form.locator("select[name=kind]").select_option("adherence")
            # Who is called, as a field (no JSON): Grace's record number.
            await form.locator("textarea[name='targets.patient_mrns']").fill("MRN-4242")
            await form.locator("button[type=submit]").click()
            await page.wait_for_url(f"{base}/campaigns/*")
            assert await page.text_content("h1") == "Diabetes <i>check</i>"
            assert await page.text_content("#status") == "Draft"  # a label, not the code
            assert await page.get_attribute("#status", "data-status") == "draft"

            await page.click("button[value=start]")
            await page.wait_for_selector("#status[data-status=running] >> text=Running")
            scheduled = page.locator("#progress tr", has_text="Scheduled").locator("td")
            assert await scheduled.inner_text() == "1"
            # Admins get the settings form (supervisors only read them: integration tests).
            assert await page.locator("#campaign-settings").count() == 1

            await page.click("button[value=stop]")
            await page.wait_for_selector("#status[data-status=stopped] >> text=Stopped")
            async with page.expect_download() as info:
                await page.click("text=Results (CSV)")
            download = await info.value
            saved = tmp_path / "results.csv"
            await download.save_as(saved)
            lines = saved.read_text().splitlines()
            assert lines[0].endswith(",medication")
            assert "MRN-4242" in lines[1] and ",cancelled," in lines[1]
        finally:
            await browser.close()
