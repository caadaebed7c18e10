"""The supervisor board in a real headless Chromium: live updates, reconnect, escaping.

The server is the real one (start_runtime, the console app on a TCP port) without Asterisk;
queue events and call notices are published on its bus as the AMI bridge and the call tracker
would publish them. A live-Asterisk run of the board is in
tests/integration/callcenter/test_demo_stream_asterisk.py.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp import web

from callcenter.ami_events import AmiEvent, Headers
from callcenter.call_state import CallAnswered, CallEnded, CallQueued, CallStarted
from callcenter.server import stop_runtime
from tests.e2e.test_console_chromium import CHROMIUM_ARGS, TIMEOUT_MS, chromium  # noqa: F401
from tests.integration.web_console.console_support import (
    PASSWORD,
    ConsoleWorld,
    start_console_world,
)
from web_console.app import create_app
from web_console.keys import WS_HUB

QUEUE = "appointments"
EVIL = "<img src=x onerror=alert(1)>"


@pytest.fixture
async def board_site(tmp_path: Path) -> AsyncIterator[tuple[str, ConsoleWorld, web.Application]]:
    world = await start_console_world(tmp_path / "data")
    app = create_app(world.runtime)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}", world, app
    finally:
        await runner.cleanup()
        await stop_runtime(world.runtime)


def _event(name: str, **headers: str) -> AmiEvent:
    return AmiEvent(name, Headers(list(headers.items())), received_at=time.time())


async def test_board_updates_live_reconnects_and_escapes(chromium, board_site) -> None:  # noqa: F811
    from playwright.async_api import async_playwright

    base, world, app = board_site
    bus = world.runtime.bus
    dialogs: list[str] = []
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page()
            page.set_default_timeout(TIMEOUT_MS)
            page.on("dialog", lambda dialog: dialogs.append(dialog.message))
            await page.goto(f"{base}/login?next=/supervisor")
            await page.fill("input[name=username]", "sam")
            await page.fill("input[name=password]", PASSWORD)
            await page.click("button[type=submit]")
            await page.wait_for_url(f"{base}/supervisor")
            await page.wait_for_selector('#board-link[data-state="open"]')

            # A caller waits; an agent (whose name is a script) signs in and answers a call.
            bus.publish(_event("QueueCallerJoin", Queue=QUEUE, Uniqueid="w1", Linkedid="w1"))
            bus.publish(
                _event(
                    "QueueMemberAdded",
                    Queue=QUEUE,
                    Interface="PJSIP/7777",
                    MemberName=EVIL,
                    Status="1",
                    Paused="0",
                )
            )
            waiting = f'tr[data-queue="{QUEUE}"] td.waiting'
            await page.wait_for_selector(f'{waiting}:text-is("1")')
            agent_row = 'tr[data-interface="PJSIP/7777"]'
            await page.wait_for_selector(f"{agent_row} .state.ready")
            assert await page.text_content(f"{agent_row} td:first-child") == EVIL

            at = datetime.now(UTC)
            bus.publish(CallStarted("c1", "inbound", "+12125550100", None, None, at))
            bus.publish(CallQueued("c1", QUEUE, 1, at))
            bus.publish(CallAnswered("c1", QUEUE, "PJSIP/7777", 3.0, at + timedelta(seconds=3)))
            await page.wait_for_selector(f"{agent_row} .state.on_call")
            await page.wait_for_selector(f'tr[data-queue="{QUEUE}"] td.answered:text-is("1")')

            # The server drops every socket: the page reconnects by itself and resyncs.
            updates = int(await page.get_attribute("#board", "data-updates") or 0)
            await app[WS_HUB].close_all()
            await page.wait_for_selector('#board-link[data-state="closed"]')
            await page.wait_for_selector('#board-link[data-state="open"]')
            bus.publish(CallEnded("c1", "completed", False, 16, at + timedelta(seconds=40)))
            bus.publish(_event("QueueCallerAbandon", Queue=QUEUE, Uniqueid="w1"))
            await page.wait_for_selector(f'{waiting}:text-is("0")')
            await page.wait_for_selector(f"{agent_row} .state.ready")
            assert int(await page.get_attribute("#board", "data-updates") or 0) > updates
            hour = datetime.now(world.runtime.settings.tz).hour
            bar = f'#board-chart rect[data-hour="{hour}"]'
            assert await page.get_attribute(bar, "data-calls") == "1"
            assert dialogs == []
        finally:
            await browser.close()
