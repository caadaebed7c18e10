"""Call control end to end: real server, real sandbox, headless Chromium clicking the buttons.

Alice takes a queue call, puts it on hold (Asterisk plays music to the caller) and takes it
back, tries a transfer to a number that cannot be dialled (the desk says so), then transfers
the caller to the queue, where bob's desk gets the pop under the same Linkedid.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from callcenter.agents.notifier import ScreenPopChanged
from callcenter.ami.events import AmiEvent, AmiResynced
from callcenter.asterisk import const
from callcenter.calls.state import CallEnded
from callcenter.server.root import Server, start_server
from hcrm_core.actors import Actor
from hcrm_core.models import Role
from hcrm_core.services.users import create_user, set_extension
from tests.e2e.test_console_chromium import CHROMIUM_ARGS, chromium  # noqa: F401 - fixture
from tests.support.asterisk_sandbox import AsteriskSandboxHandle
from tests.support.browser import page_as
from tests.support.console import PASSWORD
from tests.support.desk import desk_settings, quietest_queue
from tests.support.rig import Recorder, agent_extension
from web_console.app import create_app

pytestmark = pytest.mark.asterisk
TIMEOUT_MS = 30_000
WAIT = 30.0
SHOTS = Path("/tmp/h/shots")


@pytest.fixture
async def call_site(
    asterisk_sandbox: AsteriskSandboxHandle, tmp_path: Path
) -> AsyncIterator[tuple[str, Server, Recorder, dict[str, int]]]:
    server = await start_server(desk_settings(asterisk_sandbox, tmp_path), serve_console=False)
    recorder = Recorder(server.bus)
    runner = web.AppRunner(create_app(server.console_deps()), access_log=None)
    try:
        users: dict[str, int] = {}
        for name in ("alice", "bob"):
            async with server.database.transaction() as session:
                user = await create_user(session, username=name, password=PASSWORD, role=Role.AGENT)
                users[name] = user.id
        await server.ami.wait_ready(20)
        await recorder.wait_for(AmiResynced)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        yield f"http://{host}:{port}", server, recorder, users
    finally:
        await runner.cleanup()
        for status in server.desk.agents.agents():
            await server.desk.agents.sign_out(status.username)
        await server.stop()


async def test_hold_resume_and_blind_transfer_from_the_desk(chromium, call_site) -> None:  # noqa: F811
    from playwright.async_api import async_playwright, expect

    base, server, recorder, users = call_site
    expect.set_options(timeout=TIMEOUT_MS)
    extension = agent_extension(1)
    await set_extension(server.database, users["alice"], extension, Actor.system())
    agents = server.desk.agents
    await agents.sign_in(users["bob"], "bob", agent_extension(1))
    await agents.pause("bob", "break")  # the first ring is alice's
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = await page_as(browser, base, "alice", "/desk", timeout_ms=TIMEOUT_MS)
            await expect(page.locator("#desk-link")).to_have_attribute("data-state", "open")
            await page.click("#sign-in")
            await expect(page.locator("#agent-state")).to_have_attribute("data-state", "ready")
            await expect(page.locator("#call-control")).to_be_hidden()

            queue = await quietest_queue(server)
            linkedid = f"cc-{uuid.uuid4().hex[:16]}"
            await server.ami.originate(
                f"Local/s@{const.CONTEXT_SIM_PATIENT}",
                context=const.CONTEXT_QUEUES,
                exten=queue,
                caller_id='"Patient" <+12125550188>',
                channel_id=linkedid,
                variables={"SIM_HOLD": "90", "__SIM_AGENT_RING": "1", "__SIM_AGENT_TALK": "90"},
            )
            controls = page.locator("#call-control")
            await expect(controls).to_be_visible()
            await expect(page.locator("#call-phase")).to_have_text("Talking")
            await expect(page.locator("#call-clock")).not_to_have_text("0:00")

            await page.click("#call-hold")
            await expect(page.locator("#call-phase")).to_have_text("On hold")
            await expect(page.locator("#call-hold")).to_have_text("Resume call")
            await recorder.wait_for(
                AmiEvent,
                lambda e: e.name == "MusicOnHoldStart" and e.linkedid == linkedid,
                timeout=WAIT,
            )
            await asyncio.to_thread(SHOTS.mkdir, parents=True, exist_ok=True)
            await page.screenshot(path=str(SHOTS / "callctl-held-1400.png"), full_page=True)
            await page.set_viewport_size({"width": 1024, "height": 800})
            await page.screenshot(path=str(SHOTS / "callctl-held-1024.png"), full_page=True)
            await page.keyboard.press("Alt+H")  # the shortcut resumes the call
            await expect(page.locator("#call-phase")).to_have_text("Talking")
            await recorder.wait_for(
                AmiEvent,
                lambda e: e.name == "MusicOnHoldStop" and e.linkedid == linkedid,
                timeout=WAIT,
            )

            # A number that cannot be dialled: the desk says why, the call stays.
            await page.select_option("#call-transfer-kind", "number")
            await page.fill("#call-transfer-target", "12")
            await page.click("#call-transfer")
            await expect(page.locator("#call-message")).to_contain_text("cannot be dialled")
            await expect(page.locator("#call-phase")).to_have_text("Talking")

            await agents.resume("bob")
            await page.select_option("#call-transfer-kind", "queue")
            await page.select_option("#call-transfer-queue", queue)
            await page.click("#call-transfer")
            await expect(page.locator("#call-message")).to_contain_text("Transferred")
            await recorder.wait_for(
                ScreenPopChanged,
                lambda c: (
                    c.username == "bob"
                    and c.pop["linkedid"] == linkedid
                    and c.pop["phase"] == "answered"
                ),
                timeout=WAIT,
            )
            await expect(page.locator(f'#pops .pop[data-linkedid="{linkedid}"]')).to_have_count(1)
            await expect(controls).to_be_hidden()
            assert agents.require("alice").state.value != "on_call", agents.require("alice").view()
            await page.screenshot(path=str(SHOTS / "callctl-transferred-1024.png"), full_page=True)
            await server.desk.call_control.hang_up("bob")
            await recorder.wait_for(CallEnded, lambda n: n.linkedid == linkedid, timeout=WAIT)
        finally:
            await browser.close()
