"""An admin creates a doctor and their weekly session in a real headless Chromium (Debian's)."""

from __future__ import annotations

from tests.e2e.test_console_chromium import CHROMIUM_ARGS, TIMEOUT_MS, chromium, served
from tests.support.browser import page_as
from tests.support.console import ConsoleWorld

__all__ = ["chromium", "served"]  # fixtures shared with the console test


async def test_admin_creates_a_doctor_and_sees_the_week(
    chromium: str, served: tuple[str, ConsoleWorld]
) -> None:
    from playwright.async_api import async_playwright

    base, _ = served
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = await page_as(browser, base, "ada", "/", timeout_ms=TIMEOUT_MS, height=1000)
            await page.click("#manage-menu summary")
            await page.click("nav >> text=Doctors")
            await page.wait_for_url(f"{base}/admin/doctors")

            new = page.locator("#new-doctor-form")
            await new.locator("select[name=department_id]").select_option(label="Dermatology")
            await new.locator("input[name=given_name]").fill("Mira")
            await new.locator("input[name=family_name]").fill("Sato")
            await new.locator("input[name=specialty]").fill("Paediatric dermatology")
            await new.locator("button[type=submit]").click()
            await page.wait_for_url(f"{base}/admin/doctors/*")
            assert "Mira Sato" in (await page.text_content("h1") or "")
            assert await page.locator("#no-sessions").count() == 1

            # A slot length that does not divide the session: refused at the field, input kept.
            form = page.locator("#template-form")
            await form.locator("select[name=weekday]").select_option(label="Tuesday")
            await form.locator("input[name=start_time]").fill("09:00")
            await form.locator("input[name=end_time]").fill("12:00")
            await form.locator("input[name=slot_minutes]").fill("25")
            await form.locator("input[name=location]").fill("Skin clinic, room 4")
            await form.locator("button[type=submit]").click()
            error = page.locator("#template-slot_minutes-error")
            await error.wait_for()
            assert "25 minutes does not divide" in (await error.text_content() or "")
            form = page.locator("#template-form")
            assert await form.locator("input[name=slot_minutes]").input_value() == "25"
            assert await form.locator("input[name=start_time]").input_value() == "09:00"
            assert await form.locator("input[name=location]").input_value() == (
                "Skin clinic, room 4"
            )
            assert await form.locator("select[name=weekday]").input_value() == "1"

            await form.locator("input[name=slot_minutes]").fill("30")
            await form.locator("button[type=submit]").click()
            await page.wait_for_selector("#notice >> text=Weekly session added")
            tuesday = page.locator("#week-grid section[aria-label=Tuesday]")
            assert "09:00–12:00" in (await tuesday.inner_text())
            assert "6 slots of 30 min" in (await tuesday.inner_text())
            monday = page.locator("#week-grid section[aria-label=Monday]")
            assert "No session" in (await monday.inner_text())
        finally:
            await browser.close()
