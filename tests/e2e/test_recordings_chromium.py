"""Headless Chromium plays a recording: waveform drawn, transcript words seek the audio."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from sqlalchemy import select

from hcrm_core.models import AuditAction, AuditEvent
from tests.e2e.test_console_chromium import CHROMIUM_ARGS, TIMEOUT_MS, chromium  # noqa: F401
from tests.support.browser import log_in
from tests.support.recording_world import RecordingWorld, start_recording_world
from web_console.app import create_app


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[str, RecordingWorld]]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'console.sqlite3'}"
    world = await start_recording_world(tmp_path / "data", url)
    runner = web.AppRunner(create_app(world.server.console_deps()), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}", world
    finally:
        await runner.cleanup()
        await world.server.stop()


async def test_supervisor_plays_a_recording_and_seeks_from_the_transcript(
    chromium: str,  # noqa: F811
    served: tuple[str, RecordingWorld],
) -> None:
    from playwright.async_api import async_playwright

    base, world = served
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page()
            page.set_default_timeout(TIMEOUT_MS)
            await log_in(page, base, "sam", "/")
            await page.goto(f"{base}/recordings")
            await page.click(f"tr[data-recording='{world.bobs}'] a")
            await page.wait_for_url(f"{base}/recordings/{world.bobs}")
            # The browser decoded the (server-decrypted) stereo audio.
            await page.wait_for_function(
                "document.getElementById('recording-audio').duration > 2.5"
            )
            painted = await page.evaluate(
                """() => {
                    const c = document.getElementById('waveform');
                    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                    let n = 0;
                    for (let i = 3; i < d.length; i += 4) { if (d[i] > 0) n++; }
                    return n;
                }"""
            )
            assert painted > 1000
            await page.click("#transcript .word:text('appointment')")
            at = await page.evaluate("document.getElementById('recording-audio').currentTime")
            assert at == pytest.approx(1.0, abs=0.05)
            box = await page.locator("#waveform").bounding_box()
            assert box is not None
            await page.mouse.click(box["x"] + box["width"] * 0.5, box["y"] + box["height"] / 2)
            half = await page.evaluate(
                "(() => { const a = document.getElementById('recording-audio');"
                " return a.currentTime / a.duration; })()"
            )
            assert half == pytest.approx(0.5, abs=0.05)
        finally:
            await browser.close()
    async with world.server.database.session() as session:
        plays = list(
            await session.scalars(
                select(AuditEvent).where(
                    AuditEvent.action == AuditAction.PLAY,
                    AuditEvent.entity_id == str(world.bobs),
                )
            )
        )
    assert plays and {a.actor for a in plays} == {"user:sam"}
