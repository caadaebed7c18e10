"""Helpers shared by the end-to-end tests that drive the console in a headless Chromium."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from aiohttp import web

from tests.support.console import PASSWORD

if TYPE_CHECKING:  # imported by the tests only when a browser runs
    from playwright.async_api import Browser, Page

SHOT_WIDTHS = (1400, 1024)
_HEIGHT = 1000


@asynccontextmanager
async def serve_console(app: web.Application) -> AsyncIterator[str]:
    """The console ``app`` on a free loopback port; yields its base URL."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()


async def log_in(page: Page, base: str, username: str, next_path: str) -> None:
    """Log ``username`` in through the login form and wait until ``next_path`` shows."""
    await page.goto(f"{base}/login?next={next_path}")
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{base}{next_path}")


async def page_as(
    browser: Browser,
    base: str,
    username: str,
    next_path: str,
    *,
    timeout_ms: float,
    width: int = 1400,
    height: int = 900,
) -> Page:
    """A new ``width`` x ``height`` page of ``browser`` with ``username`` logged in, at
    ``next_path``; its actions time out after ``timeout_ms``."""
    page = await browser.new_page(viewport={"width": width, "height": height})
    page.set_default_timeout(timeout_ms)
    await log_in(page, base, username, next_path)
    return page


async def screenshots(page: Page, shots: str | None, name: str) -> None:
    """Full-page screenshots ``{shots}/{name}-{width}.png`` at each of SHOT_WIDTHS (none
    when ``shots`` is unset); the page is left at the first width."""
    if not shots:
        return
    for width in SHOT_WIDTHS:
        await page.set_viewport_size({"width": width, "height": _HEIGHT})
        await page.screenshot(path=f"{shots}/{name}-{width}.png", full_page=True)
    await page.set_viewport_size({"width": SHOT_WIDTHS[0], "height": _HEIGHT})
