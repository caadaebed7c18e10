"""The supervisor board in a real headless Chromium: live updates, reconnect, escaping, monitoring.

The first test runs the real server (start_server, the console app on a TCP port) without
Asterisk; queue events and call notices are published on its bus as the AMI bridge and the call
tracker would publish them. The monitoring test runs the server against the Asterisk sandbox: a
simulated patient calls a queue, a simulated agent phone answers, and the supervisor's Listen
button rings the supervisor's (simulated, self-answering) phone into ChanSpy. A live-Asterisk
run of the board figures is in tests/integration/callcenter/demo/test_demo_stream_asterisk.py.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy import select

from callcenter.ami.events import AmiEvent, AmiResynced, Headers
from callcenter.asterisk import const
from callcenter.calls.state import AgentRinging, CallAnswered, CallEnded, CallQueued, CallStarted
from callcenter.server.root import Server, start_server
from hcrm_core.models import AuditAction, AuditEvent, Role
from hcrm_core.services.users import create_user
from tests.e2e.test_console_chromium import CHROMIUM_ARGS, TIMEOUT_MS, chromium  # noqa: F401
from tests.support.asterisk_sandbox import AsteriskSandboxHandle
from tests.support.browser import log_in
from tests.support.console import (
    PASSWORD,
    ConsoleWorld,
    start_console_world,
)
from tests.support.desk import quietest_queue
from tests.support.rig import Recorder, agent_extension, runtime_settings
from web_console.app import create_app
from web_console.keys import WS_HUB

QUEUE = "appointments"
EVIL = "<img src=x onerror=alert(1)>"


@pytest.fixture
async def board_site(tmp_path: Path) -> AsyncIterator[tuple[str, ConsoleWorld, web.Application]]:
    world = await start_console_world(tmp_path / "data")
    app = create_app(world.server.console_deps())
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}", world, app
    finally:
        await runner.cleanup()
        await world.server.stop()


def _event(name: str, **headers: str) -> AmiEvent:
    return AmiEvent(name, Headers(list(headers.items())), received_at=time.time())


async def test_board_updates_live_reconnects_and_escapes(chromium, board_site) -> None:  # noqa: F811
    from playwright.async_api import async_playwright

    base, world, app = board_site
    bus = world.server.bus
    dialogs: list[str] = []
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page()
            page.set_default_timeout(TIMEOUT_MS)
            page.on("dialog", lambda dialog: dialogs.append(dialog.message))
            await log_in(page, base, "sam", "/supervisor")
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
            hour = datetime.now(world.server.settings.tz).hour
            bar = f'#board-chart rect[data-hour="{hour}"]'
            assert await page.get_attribute(bar, "data-calls") == "1"
            assert dialogs == []
        finally:
            await browser.close()


# -- monitoring a live call from the agents table (real Asterisk sandbox) ---------------------

MONITOR_WAIT = 60.0


@pytest.fixture
async def monitor_site(
    asterisk_sandbox: AsteriskSandboxHandle, tmp_path: Path
) -> AsyncIterator[tuple[str, Server, Recorder, str]]:
    """The server on the sandbox; supervisor ``sam`` has a phone, supervisor ``sue`` has none.

    The supervisor's phone is a simulated agent phone (``Local/1XXX@sim-agents`` answers after
    a second), so the Originate that the Listen button asks for is really answered into ChanSpy.
    """
    settings = runtime_settings(asterisk_sandbox, tmp_path)
    recording = settings.recording.model_copy(
        update={"supervisor_dial": f"Local/{{extension}}@{const.CONTEXT_SIM_AGENTS}"}
    )
    server = await start_server(
        settings.model_copy(update={"recording": recording}), serve_console=False
    )
    recorder = Recorder(server.bus)
    runner = web.AppRunner(create_app(server.console_deps()), access_log=None)
    sam_phone = agent_extension(1)
    try:
        async with server.database.transaction() as session:
            await create_user(
                session,
                username="sam",
                password=PASSWORD,
                role=Role.SUPERVISOR,
                extension=sam_phone,
            )
            await create_user(session, username="sue", password=PASSWORD, role=Role.SUPERVISOR)
        await server.ami.wait_ready(20)
        await recorder.wait_for(AmiResynced)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        yield f"http://{host}:{port}", server, recorder, sam_phone
    finally:
        await runner.cleanup()
        await server.stop()


async def _board_as(browser: Any, base: str, username: str) -> Any:
    page = await browser.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    await log_in(page, base, username, "/supervisor")
    await page.wait_for_selector('#board-link[data-state="open"]')
    return page


# The row of the call's agent, read in one go: its state and how many monitor buttons it has.
_ROW_NOW = """(linkedid) => {
  const row = document.querySelector(`#board-agents tr[data-linkedid="${linkedid}"]`);
  const buttons = row && row.querySelectorAll(".monitor button").length;
  return row && [row.querySelector(".state").className, buttons];
}"""


async def test_supervisor_listens_to_an_agents_call_from_the_board(
    chromium,  # noqa: F811
    monitor_site,
) -> None:
    from playwright.async_api import async_playwright, expect

    base, server, recorder, sam_phone = monitor_site
    expect.set_options(timeout=TIMEOUT_MS)
    queue = await quietest_queue(server)
    agent_phone = agent_extension(1)
    interface = f"Local/{agent_phone}@{const.CONTEXT_SIM_AGENTS}"
    await server.ami.send_action(
        {"Action": "QueueAdd", "Queue": queue, "Interface": interface, "MemberName": "Robin"}
    )
    dialogs: list[str] = []
    try:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            try:
                page = await _board_as(browser, base, "sam")
                page.on("dialog", lambda dialog: dialogs.append(dialog.message))
                await page.wait_for_selector(f'tr[data-interface="{interface}"]')

                linkedid = f"cc-{uuid.uuid4().hex[:16]}"
                await server.ami.originate(
                    f"Local/s@{const.CONTEXT_SIM_PATIENT}",
                    context=const.CONTEXT_QUEUES,
                    exten=queue,
                    caller_id='"Patient" <+12125550142>',
                    channel_id=linkedid,
                    # The agent's phone rings 3 s, then they talk long enough to be listened to.
                    variables={
                        "SIM_HOLD": "90",
                        "__SIM_AGENT_RING": "3",
                        "__SIM_AGENT_TALK": "45",
                    },
                )
                row = f'#board-agents tr[data-linkedid="{linkedid}"]'
                # While the agent's phone only rings there is nothing to listen to: no buttons.
                await recorder.wait_for(
                    AgentRinging, lambda n: n.linkedid == linkedid, timeout=MONITOR_WAIT
                )
                await page.wait_for_selector(f"{row} .state.ringing")
                ringing = await page.evaluate(_ROW_NOW, linkedid)
                assert ringing is not None and ringing[1] == 0, ringing
                (answered,) = await recorder.wait_for(
                    CallAnswered, lambda n: n.linkedid == linkedid, timeout=MONITOR_WAIT
                )
                assert answered.interface == interface
                await page.wait_for_selector(f"{row} .state.on_call")
                listen = page.locator(f"{row} button.monitor-listen")
                await expect(page.locator(f"{row} .monitor button")).to_have_text(
                    ["Listen", "Whisper", "Barge"]
                )

                await listen.click()
                ringing_text = f"Ringing your phone (extension {sam_phone})…"
                await expect(page.locator(f"{row} .monitor-result.ok")).to_have_text(ringing_text)
                await expect(page.locator("#board-monitor-status")).to_have_text(
                    f"Robin: {ringing_text}"
                )
                # Asterisk rang sam's phone, which answered into ChanSpy on the agent's call.
                (spy,) = await recorder.wait_for(
                    AmiEvent,
                    lambda e: (
                        e.name == "ChanSpyStart"
                        and e.get("SpyeeChannel").startswith(interface)
                        and e.get("SpyerChannel").startswith(f"Local/{sam_phone}@")
                    ),
                    timeout=MONITOR_WAIT,
                )
                assert spy.get("SpyeeChannel").startswith(interface)
                async with server.database.session() as session:
                    audits = list(
                        await session.scalars(
                            select(AuditEvent).where(AuditEvent.entity == "call_monitor")
                        )
                    )
                # Audited before the Originate, then with its outcome.
                assert [(a.actor, a.action, a.entity_id) for a in audits] == [
                    ("user:sam", AuditAction.PLAY, linkedid)
                ] * 2
                attempt, placed = (a.detail for a in audits)
                assert attempt == {"mode": "listen", "outcome": "attempt", "extension": sam_phone}
                assert placed["outcome"] == "placed" and placed["action_id"]

                # A supervisor whose user has no extension is told so, on the row.
                sue = await _board_as(browser, base, "sue")
                sue.on("dialog", lambda dialog: dialogs.append(dialog.message))
                await sue.locator(f"{row} button.monitor-whisper").click()
                refused = "your user has no phone extension to monitor from"
                await expect(sue.locator(f"{row} .monitor-result.error")).to_have_text(refused)
                await expect(sue.locator("#board-monitor-status")).to_have_text(f"Robin: {refused}")
                async with server.database.session() as session:
                    sues = list(
                        await session.scalars(
                            select(AuditEvent).where(
                                AuditEvent.entity == "call_monitor", AuditEvent.actor == "user:sue"
                            )
                        )
                    )
                # The refused request rang nothing; its attempt and refusal are on the record.
                assert [a.detail["outcome"] for a in sues] == ["attempt", "refused: invalid"]
                assert dialogs == []
            finally:
                await browser.close()
    finally:
        await server.ami.send_action(
            {"Action": "QueueRemove", "Queue": queue, "Interface": interface}
        )
