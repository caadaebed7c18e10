"""A queue callback reaches the agent's desk: real server, sandbox, headless Chromium.

A callback is due (stored as the IVR's callback key stores it); the server places it in the
queue, the signed-in agent's phone answers, and the desk's pop shows the patient's card marked
as a callback while the patient's phone rings on the agent's call. Screenshots at 1400 and
1024 px go to /tmp/h/shots/callbacks-*.png.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from callcenter.ami.events import AmiResynced
from callcenter.asterisk import const
from callcenter.server.root import Server, start_server
from callcenter.settings import CallbacksSettings
from hcrm_core.actors import Actor
from hcrm_core.models import CallbackStatus, Role, utcnow
from hcrm_core.services.users import create_user, set_extension
from tests.e2e.test_console_chromium import CHROMIUM_ARGS, chromium  # noqa: F401 - fixture
from tests.support.asterisk_sandbox import AsteriskSandboxHandle
from tests.support.browser import page_as
from tests.support.console import PASSWORD
from tests.support.desk import desk_settings, quietest_queue
from tests.support.factories import make_patient
from tests.support.rig import Recorder, agent_extension
from web_console.app import create_app

pytestmark = pytest.mark.asterisk
TIMEOUT_MS = 30_000
SHOTS = Path("/tmp/h/shots")
PATIENT_PHONE = "+12125550177"


@pytest.fixture
async def callback_site(
    asterisk_sandbox: AsteriskSandboxHandle, tmp_path: Path
) -> AsyncIterator[tuple[str, Server, int]]:
    settings = desk_settings(asterisk_sandbox, tmp_path)
    settings = settings.model_copy(
        update={
            # The patient's phone: a simulated one that rings a few seconds and answers.
            "outbound": settings.outbound.model_copy(
                update={"dial_channel": f"Local/{{number}}@{const.CONTEXT_SIM_CALLEE}"}
            ),
            "callbacks": CallbacksSettings(tick_seconds=0.2),
        }
    )
    server = await start_server(settings, serve_console=False)
    recorder = Recorder(server.bus)
    runner = web.AppRunner(create_app(server.console_deps()), access_log=None)
    try:
        async with server.database.transaction() as session:
            user = await create_user(session, username="alice", password=PASSWORD, role=Role.AGENT)
        await make_patient(
            server.database,
            settings.booking_policy(),
            given_name="Grace",
            family_name="Callback",
            phones=(PATIENT_PHONE,),
        )
        await server.ami.wait_ready(20)
        await recorder.wait_for(AmiResynced)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        yield f"http://{host}:{port}", server, user.id
    finally:
        await runner.cleanup()
        for status in server.desk.agents.agents():
            await server.desk.agents.sign_out(status.username)
        await server.stop()


async def test_the_agent_gets_the_callback_with_the_patients_pop(
    chromium: str,  # noqa: F811
    callback_site: tuple[str, Server, int],
) -> None:
    from playwright.async_api import async_playwright, expect

    base, server, user_id = callback_site
    expect.set_options(timeout=TIMEOUT_MS)
    await set_extension(server.database, user_id, agent_extension(1), Actor.system())
    await asyncio.to_thread(SHOTS.mkdir, parents=True, exist_ok=True)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = await page_as(browser, base, "alice", "/desk", timeout_ms=TIMEOUT_MS)
            await expect(page.locator("#desk-link")).to_have_attribute("data-state", "open")
            await page.click("#sign-in")
            await expect(page.locator("#agent-state")).to_have_attribute("data-state", "ready")
            queue = await quietest_queue(server)
            callback = await server.callbacks.service.request(
                queue, PATIENT_PHONE, arrived_at=utcnow()
            )
            meta = page.locator(".pop-meta").first
            await expect(meta.locator(".pop-callback")).to_contain_text(
                "Callback the patient asked for"
            )
            await expect(meta).to_contain_text(PATIENT_PHONE)
            await expect(page.locator("#pops")).to_contain_text("Grace Callback")
            # The patient's phone rings on the agent's call: the callback is being dialled.
            await _status(server, callback.id, CallbackStatus.DIALLING, CallbackStatus.DONE)
            await page.screenshot(path=str(SHOTS / "callbacks-desk-1400.png"), full_page=True)
            await page.set_viewport_size({"width": 1024, "height": 800})
            await page.screenshot(path=str(SHOTS / "callbacks-desk-1024.png"), full_page=True)
        finally:
            await browser.close()


async def _status(server: Server, callback_id: int, *wanted: CallbackStatus) -> None:
    async def wait() -> None:
        while True:
            row = await server.callbacks.service.get(callback_id)
            if row is not None and row.status in wanted:
                return
            await asyncio.sleep(0.1)

    try:
        await asyncio.wait_for(wait(), TIMEOUT_MS / 1000)
    except TimeoutError:
        row = await server.callbacks.service.get(callback_id)
        pytest.fail(f"callback {callback_id} is {row and row.status}, not one of {wanted}")
