"""An admin keeps users from the console in a real headless Chromium (Debian's): creates an
agent with an extension, resets their password; the agent logs in with the temporary password
and can do nothing before choosing their own."""

from __future__ import annotations

import re

from tests.e2e.test_console_chromium import CHROMIUM_ARGS, TIMEOUT_MS, chromium, served
from tests.support.browser import log_in
from tests.support.console import ConsoleWorld

__all__ = ["chromium", "served"]  # fixtures shared with the console test
MUST_CHANGE = re.compile(r".*/account/password\?next=")


async def test_admin_creates_and_resets_an_agent_who_must_change_the_password(
    chromium: str, served: tuple[str, ConsoleWorld]
) -> None:
    from playwright.async_api import async_playwright

    base, _world = served
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            admin = await browser.new_page()
            admin.set_default_timeout(TIMEOUT_MS)
            await log_in(admin, base, "ada", "/")
            await admin.click("#manage-menu summary")
            await admin.click("nav >> text=Users")
            await admin.wait_for_url(f"{base}/admin/users")

            form = admin.locator("#new-user")
            await form.locator("input[name=username]").fill("nurse.li")
            await form.locator("input[name=display_name]").fill("Li Wei")
            await form.locator("select[name=role]").select_option("agent")
            await form.locator("input[name=extension]").fill("10x1")
            await form.locator("button[type=submit]").click()
            # Refused at the field, with what was typed kept.
            await admin.wait_for_selector("#extension-error")
            assert await form.locator("input[name=username]").input_value() == "nurse.li"
            await form.locator("input[name=extension]").fill("1011")
            await form.locator("button[type=submit]").click()
            first = await admin.text_content("#temporary-password")
            assert first and len(first) == 19

            await admin.click("text=Done")
            await admin.wait_for_selector("#facts >> text=must change password")
            await admin.click("#reset-password")
            await admin.wait_for_url("**/reset-password")
            await admin.click("#confirm button[type=submit]")
            temporary = await admin.text_content("#temporary-password")
            assert temporary and temporary != first

            context = await browser.new_context()  # the agent's own browser: own cookies
            agent = await context.new_page()
            agent.set_default_timeout(TIMEOUT_MS)
            await agent.goto(f"{base}/desk")
            await agent.fill("input[name=username]", "nurse.li")
            await agent.fill("input[name=password]", temporary)
            await agent.click("button[type=submit]")
            await agent.wait_for_url(MUST_CHANGE)
            assert await agent.is_visible("#must-change")
            await agent.goto(f"{base}/patients")  # every other page sends them back
            await agent.wait_for_url(MUST_CHANGE)
            await agent.fill("#current_password", temporary)
            await agent.fill("#new_password", "li-wei-own-password")
            await agent.fill("#new_password_again", "li-wei-own-password")
            await agent.click("#password-form button[type=submit]")
            await agent.wait_for_url(f"{base}/patients")
            assert await agent.text_content("#whoami") == "nurse.li (agent)"

            await admin.goto(f"{base}/admin/users")
            row = admin.locator("#users tr[data-username='nurse.li']")
            assert "1011" in await row.inner_text() and "Active" in await row.inner_text()
        finally:
            await browser.close()
