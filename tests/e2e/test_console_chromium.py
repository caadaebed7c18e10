"""A real headless Chromium (Debian's) drives the console: log in, search, open a card.

The server is the real one (start_server, the console app on a TCP port); only Asterisk is
absent (AMI points at a closed port), which the console tolerates.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.conftest import require_or_skip
from tests.support.browser import serve_console
from tests.support.console import (
    PASSWORD,
    ConsoleWorld,
    start_console_world,
)
from web_console.app import create_app

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TIMEOUT_MS = 15_000


@pytest.fixture
def chromium() -> str:
    if shutil.which(CHROMIUM) is None:
        require_or_skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    return CHROMIUM


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[str, ConsoleWorld]]:
    world = await start_console_world(tmp_path / "data")
    try:
        async with serve_console(create_app(world.server.console_deps())) as base:
            yield base, world
    finally:
        await world.server.stop()


async def test_agent_logs_in_searches_and_sees_a_script_name_as_text(chromium, served) -> None:
    from playwright.async_api import async_playwright

    base, world = served
    dialogs: list[str] = []
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page()
            page.set_default_timeout(TIMEOUT_MS)
            page.on("dialog", lambda dialog: dialogs.append(dialog.message))

            await page.goto(f"{base}/patients")
            assert page.url.startswith(f"{base}/login")
            await page.fill("input[name=username]", "alice")
            await page.fill("input[name=password]", PASSWORD)
            await page.click("button[type=submit]")
            await page.wait_for_url(f"{base}/patients")
            assert await page.text_content("#whoami") == "alice (agent)"

            await page.fill("input[name=q]", "hopperton")
            await page.click("form.search button[type=submit]")
            await page.wait_for_selector("#results")
            await page.click("text=Grace Hopperton")
            await page.wait_for_url(f"{base}/patients/{world.grace.id}")
            assert await page.text_content("#patient-name") == "Grace Hopperton"
            assert await page.text_content("#patient-mrn") == "MRN-4242"
            assert "Cardiology" in (await page.text_content("#appointments") or "")

            # The page's JavaScript helper calls the JSON API with the session and CSRF token.
            api_card = await page.evaluate(
                f"window.consoleApi('/api/v1/patients/{world.grace.id}')"
            )
            assert api_card["mrn"] == "MRN-4242"
            api_error = await page.evaluate(
                "window.consoleApi('/api/v1/patients?q=x&limit=lots')"
                ".catch(e => [e.status, e.data.field])"
            )
            assert api_error == [422, "limit"]

            await page.goto(f"{base}/patients?q=evil")
            link = page.get_by_role("link", name="<script>alert(1)</script> Evil")
            await link.click()
            await page.wait_for_url(f"{base}/patients/{world.script.id}")
            name = page.locator("#patient-name")
            assert await name.inner_text() == "<script>alert(1)</script> Evil"
            assert await name.is_visible()
            assert await page.locator("#patient-card script").count() == 0
            assert dialogs == []

            # An agent is not a supervisor.
            denied = await page.goto(f"{base}/supervisor")
            assert denied is not None and denied.status == 403

            # Logging out ends the session: the card is no longer reachable.
            await page.click("form.logout button[type=submit]")
            await page.wait_for_url(f"{base}/login")
            await page.goto(f"{base}/patients/{world.grace.id}")
            assert page.url.startswith(f"{base}/login")
        finally:
            await browser.close()
