"""The agent desk end to end: real server, real Asterisk sandbox, real headless Chromium.

An agent logs in, signs in with an extension whose Local-channel phone answers by itself, a
simulated patient calls into the queue, the pop shows the right patient, the agent books an
appointment from it (the database shows it) and closes the call with a disposition. A second
caller, whose name is a script, is shown as text.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy import select

from callcenter.ami.events import AmiResynced
from callcenter.asterisk import const
from callcenter.demo.callers import DemoCallers, KnownCaller, Persona, StreamSettings
from callcenter.server.root import Server, start_server
from callcenter.settings import AgentsSettings
from hcrm_core.actors import Actor
from hcrm_core.models import Appointment, Call, Patient, Role
from hcrm_core.services.users import create_user, set_extension, user_by_name
from tests.e2e.test_console_chromium import CHROMIUM_ARGS, chromium  # noqa: F401 - fixture
from tests.support.asterisk_sandbox import AsteriskSandboxHandle
from tests.support.browser import log_in
from tests.support.caller import PatientsPhone
from tests.support.console import PASSWORD
from tests.support.desk import quietest_queue, render_ivr_prompts
from tests.support.factories import make_hospital, make_patient
from tests.support.rig import Recorder, agent_extension, runtime_settings
from web_console.app import create_app
from web_console.keys import WS_HUB
from web_console.ws import WsHub

pytestmark = pytest.mark.asterisk
TIMEOUT_MS = 30_000
GRACE_PHONE = "+12125550142"
SCRIPT_PHONE = "+12125550166"


@pytest.fixture
async def desk_site(
    asterisk_sandbox: AsteriskSandboxHandle, tmp_path: Path
) -> AsyncIterator[tuple[str, Server, dict[str, Patient], WsHub]]:
    settings = runtime_settings(asterisk_sandbox, tmp_path)
    # Wrap-up on the 10 s timer: a call of another session sharing the sandbox may ring this
    # agent, and held until its disposition it would keep the agent from the test's next call.
    # (The hold itself: test_agent_desk_asterisk.py and test_desk_ux_chromium.py.)
    settings = settings.model_copy(
        update={
            "agents": AgentsSettings(
                interface=f"Local/{{extension}}@{const.CONTEXT_SIM_AGENTS}",
                wrapup_until_disposition=False,
            )
        }
    )
    server = await start_server(settings, serve_console=False)
    recorder = Recorder(server.bus)
    runner = web.AppRunner(create_app(server.console_deps()), access_log=None)
    try:
        policy = settings.booking_policy()
        async with server.database.transaction() as session:
            await create_user(session, username="alice", password=PASSWORD, role=Role.AGENT)
        await make_hospital(server.database, policy)
        patients = {
            "grace": await make_patient(
                server.database,
                policy,
                given_name="Grace",
                family_name="Hopperton",
                mrn="MRN-4242",
                phones=("(212) 555-0142",),
            ),
            "script": await make_patient(
                server.database,
                policy,
                given_name="<script>alert(1)</script>",
                family_name="Evil",
                phones=(SCRIPT_PHONE,),
            ),
        }
        await server.ami.wait_ready(20)
        await recorder.wait_for(AmiResynced)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        yield f"http://{host}:{port}", server, patients, runner.app[WS_HUB]
    finally:
        await runner.cleanup()
        for status in server.desk.agents.agents():
            await server.desk.agents.sign_out(status.username)
        await server.stop()


async def _call(server: Server, queue: str, number: str) -> str:
    linkedid = f"cc-{uuid.uuid4().hex[:16]}"
    await server.ami.originate(
        f"Local/s@{const.CONTEXT_SIM_PATIENT}",
        context=const.CONTEXT_QUEUES,
        exten=queue,
        caller_id=f'"Patient" <{number}>',
        channel_id=linkedid,
        variables={"SIM_HOLD": "60", "__SIM_AGENT_RING": "1", "__SIM_AGENT_TALK": "3"},
    )
    return linkedid


# Headless Chromium has no visible tab to hide and no notification daemon: the page sees a
# hidden document and a Notification that records what the desk shows.
_HIDDEN_TAB_WITH_NOTIFICATIONS = """() => {
  Object.defineProperty(document, "hidden", { configurable: true, get: () => true });
  window.__notified = [];
  window.Notification = class {
    static permission = "granted";
    constructor(title, options) { window.__notified.push({ title, ...options }); }
  };
}"""


def _pop(page: Any, linkedid: str) -> Any:
    return page.locator(f'#pops .pop[data-linkedid="{linkedid}"]')


async def test_agent_gets_the_pop_and_books_from_it(chromium, desk_site) -> None:  # noqa: F811
    from playwright.async_api import async_playwright, expect

    base, server, patients, hub = desk_site
    # The queue does not ring an agent again during its wrap-up time (10 s): be patient.
    expect.set_options(timeout=TIMEOUT_MS)
    grace, script = patients["grace"], patients["script"]
    dialogs: list[str] = []
    extension = agent_extension(1)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page()
            page.set_default_timeout(TIMEOUT_MS)
            page.on("dialog", lambda dialog: dialogs.append(dialog.message))
            await log_in(page, base, "alice", "/desk")
            await expect(page.locator("#desk-link")).to_have_attribute("data-state", "open")

            await _assign_extension(server, extension)
            await page.fill("#extension", extension)
            await page.click("#sign-in")
            await expect(page.locator("#agent-state")).to_have_attribute("data-state", "ready")
            await page.select_option("#pause-reason", "break")
            await page.click("#pause")
            await expect(page.locator("#agent-state")).to_have_attribute("data-state", "paused")
            await expect(page.locator("#agent-reason")).to_have_text("(Break)")
            await page.click("#resume")
            await expect(page.locator("#agent-state")).to_have_attribute("data-state", "ready")

            # The network drops; meanwhile the agent is paused (from another tab, say): the
            # desk reconnects by itself and shows the server's state.
            await hub.close_all()
            await server.desk.agents.pause("alice", "meeting")
            await expect(page.locator("#agent-reason")).to_have_text("(Meeting)")
            await expect(page.locator("#desk-link")).to_have_attribute("data-state", "open")
            await page.click("#resume")
            await expect(page.locator("#agent-state")).to_have_attribute("data-state", "ready")

            queue = await quietest_queue(server)
            linkedid = await _call(server, queue, GRACE_PHONE)
            pop = _pop(page, linkedid)
            await expect(pop.locator(".pop-record")).to_have_text("MRN-4242")
            await expect(pop.locator(".pop-title")).to_have_text("Grace Hopperton")
            await expect(pop).to_have_attribute("data-phase", "answered")

            await pop.locator(".action-book summary").click()
            await expect(pop.locator(".book-department option")).not_to_have_count(0)
            await pop.locator(".book-department").select_option(label="Cardiology")
            await pop.locator(".find-slots").click()
            await expect(pop.locator(".book-slot option")).not_to_have_count(0)
            await pop.locator(".book").click()
            await expect(pop.locator(".pop-message")).to_contain_text("Booked")
            async with server.database.session() as session:
                booked = (
                    await session.scalars(
                        select(Appointment).where(Appointment.patient_id == grace.id)
                    )
                ).all()
            assert len(booked) == 1
            assert booked[0].channel.value == "agent" and booked[0].booked_call_id == linkedid
            await expect(pop.locator(".pop-appointments li")).to_have_count(1)

            await expect(pop).to_have_attribute("data-phase", "ended")
            await pop.locator(".disposition").select_option("booked")
            await pop.locator(".save-disposition").click()
            await expect(pop).to_have_count(0)
            await expect(page.locator("#no-pops")).to_be_visible()
            async with server.database.session() as session:
                call = await session.scalar(select(Call).where(Call.linkedid == linkedid))
            assert call is not None and call.disposition == "booked"
            assert call.patient_id == grace.id

            # A caller named like a script: text on the pop, nothing run. The tab is hidden
            # this time: the pop raises a browser notification.
            await page.evaluate(_HIDDEN_TAB_WITH_NOTIFICATIONS)
            second = await _call(server, queue, SCRIPT_PHONE)
            evil = _pop(page, second)
            await expect(evil.locator(".pop-record")).to_have_text(script.mrn)
            assert await evil.locator(".pop-title").inner_text() == "<script>alert(1)</script> Evil"
            assert await page.locator("#pops script").count() == 0
            assert dialogs == []
            notified = await page.evaluate("window.__notified")
            assert [n["tag"] for n in notified] == [second]
            assert notified[0]["title"] == "Incoming call"
        finally:
            await browser.close()


TWINS_PHONE = "+12125550177"
UNKNOWN_PHONE = "+12125550178"


async def _assign_extension(server: Server, extension: str) -> None:
    """Alice's phone, as an admin assigns it: the desk signs her in on no other."""
    alice = await user_by_name(server.database, "alice")
    await set_extension(server.database, alice.id, extension, Actor.system())


async def _sign_in_at_the_desk(page: Any, base: str, server: Server, extension: str) -> None:
    from playwright.async_api import expect

    await _assign_extension(server, extension)
    await log_in(page, base, "alice", "/desk")
    await page.fill("#extension", extension)
    await page.click("#sign-in")
    await expect(page.locator("#agent-state")).to_have_attribute("data-state", "ready")


async def _call_patient(server: Server, linkedid: str) -> int | None:
    await server.call_log.flush()  # the call's row is written behind the events
    async with server.database.session() as session:
        call = await session.scalar(select(Call).where(Call.linkedid == linkedid))
    assert call is not None
    return call.patient_id


async def test_pick_list_and_new_patient_form_identify_the_caller(
    chromium,  # noqa: F811
    desk_site,
) -> None:
    from playwright.async_api import async_playwright, expect

    base, server, _patients, _hub = desk_site
    expect.set_options(timeout=TIMEOUT_MS)
    policy = server.settings.booking_policy()
    # One number stored for two people, in two formats: caller ID alone cannot tell them apart.
    twin_a = await make_patient(
        server.database, policy, given_name="Ann", family_name="Twin", phones=(TWINS_PHONE,)
    )
    twin_b = await make_patient(
        server.database, policy, given_name="Bea", family_name="Twin", phones=("212-555-0177",)
    )
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page()
            page.set_default_timeout(TIMEOUT_MS)
            await _sign_in_at_the_desk(page, base, server, agent_extension(1))
            queue = await quietest_queue(server)

            twins_call = await _call(server, queue, TWINS_PHONE)
            pop = _pop(page, twins_call)
            picks = pop.locator(".pick-list .pick-patient")
            await expect(picks).to_have_count(2)
            await expect(pop.locator(".pop-record")).to_have_count(0)  # no card before the pick
            await pop.locator(f'.pick-patient[data-patient-id="{twin_b.id}"]').click()
            await expect(pop.locator(".pop-record")).to_have_text(twin_b.mrn)
            await expect(pop.locator(".pop-title")).to_have_text("Bea Twin")
            await expect(pop.locator(".pick-list")).to_have_count(0)
            assert await _call_patient(server, twins_call) == twin_b.id != twin_a.id
            await expect(pop).to_have_attribute("data-phase", "ended")
            await pop.locator(".disposition").select_option("information")
            await pop.locator(".save-disposition").click()
            await expect(pop).to_have_count(0)

            # A number nobody has: the form comes prefilled with it; the agent registers them.
            unknown_call = await _call(server, queue, UNKNOWN_PHONE)
            pop = _pop(page, unknown_call)
            form = pop.locator(".new-patient-form")
            await expect(form.locator("input[name=phone]")).to_have_value(UNKNOWN_PHONE)
            await form.locator("input[name=given_name]").fill("Nova")
            await form.locator("input[name=family_name]").fill("Newcomer")
            await form.locator("input[name=date_of_birth]").fill("1990-05-17")
            await form.locator("button[type=submit]").click()
            await expect(pop.locator(".pop-message")).to_contain_text("Registered")
            await expect(pop.locator(".pop-title")).to_have_text("Nova Newcomer")
            async with server.database.session() as session:
                created = (
                    await session.scalars(
                        select(Patient).where(
                            Patient.given_name == "Nova", Patient.family_name == "Newcomer"
                        )
                    )
                ).all()
            assert len(created) == 1
            assert str(created[0].date_of_birth) == "1990-05-17"
            assert [p.id for p in await server.patients.find_by_phone(UNKNOWN_PHONE)] == [
                created[0].id
            ]
            await expect(pop.locator(".pop-record")).to_have_text(created[0].mrn)
            assert await _call_patient(server, unknown_call) == created[0].id
        finally:
            await browser.close()


async def test_a_caller_identified_in_the_ivr_pops_with_what_they_did_there(
    chromium,  # noqa: F811
    desk_site,
    asterisk_sandbox: AsteriskSandboxHandle,
    patients_phone: PatientsPhone,
) -> None:
    """A patient calls the inbound IVR, confirms their date of birth, presses 0: the pop."""
    from playwright.async_api import async_playwright, expect

    base, server, _patients, _hub = desk_site
    expect.set_options(timeout=90_000)  # the IVR speaks: language, welcome, birth date, menu
    await render_ivr_prompts(asterisk_sandbox)
    phone, born = f"+1212555{random.randint(2000, 9999)}", date(1958, 7, 14)
    patient = await make_patient(
        server.database,
        server.settings.booking_policy(),
        given_name="Ivy",
        family_name="Caller",
        phones=(phone,),
        date_of_birth=born,
    )
    async with async_playwright() as pw:
        callers = DemoCallers(
            patients_phone.ami,
            patients_phone.bus,
            [KnownCaller(phone, born.strftime("%d%m%Y"))],
            StreamSettings(
                agent_ring_seconds=2,
                agent_talk_seconds=(20, 25),
                agi_url=f"agi://127.0.0.1:{server.agi.port}",
            ),
        )
        callers.start()
        browser = await pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page()
            page.set_default_timeout(TIMEOUT_MS)
            await _sign_in_at_the_desk(page, base, server, agent_extension(1))
            linkedid = await callers.place(Persona.AGENT)
            pop = _pop(page, linkedid)
            await expect(pop.locator(".pop-record")).to_have_text(patient.mrn)
            await expect(pop.locator(".pop-title")).to_have_text("Ivy Caller")
            ivr = pop.locator(".pop-ivr")
            # Labels, not the IVR's step codes ("to-agent", "identify-caller-id").
            await expect(ivr).to_contain_text("identity confirmed in the phone menu")
            await expect(ivr).to_contain_text("Phone menu: Asked for an agent")
            await expect(ivr).to_contain_text("sent to an agent: caller asked for an agent")
            await expect(ivr).to_contain_text("tried: identify by phone number")
            await expect(ivr).not_to_contain_text("identify-caller-id")
            await expect(ivr).not_to_contain_text("matched by caller ID only")
        finally:
            await browser.close()
            await callers.stop()
