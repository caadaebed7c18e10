"""The agent's workspace in a real headless Chromium: one time format, dispositions that wait for
the end of the call, confirmations, labels instead of codes.

The server is the real one with a fake AMI (no Asterisk: this is about the page); the call's
life on the desk is driven through the desk's own notices (ringing, answered, ended), as the
call tracker would publish them.
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

from callcenter.agents.notifier import ScreenPopChanged
from callcenter.ami.events import AmiEvent, Headers
from callcenter.calls.state import AgentRinging, CallAnswered, CallEnded
from hcrm_core.actors import Actor
from hcrm_core.models import Appointment, AppointmentStatus, Call, CallDirection, Channel
from hcrm_core.services.appointments import BookingRequest
from hcrm_core.services.users import set_extension, user_by_name
from tests.e2e.test_console_chromium import CHROMIUM_ARGS, TIMEOUT_MS, chromium  # noqa: F401
from tests.support.browser import page_as
from tests.support.console import ConsoleWorld, start_console_world
from tests.support.fake_ami import FakeAmi
from tests.support.rig import Recorder
from web_console.timefmt import format_datetime

WAIT = 10.0
EXTENSION = "1001"


@pytest.fixture
async def workspace(tmp_path: Path) -> AsyncIterator[tuple[str, ConsoleWorld]]:
    from web_console.app import create_app

    fake = FakeAmi(secret="not-used")
    fake.succeed |= {"queueadd", "queueremove", "queuepause"}
    await fake.start()
    world = await start_console_world(tmp_path / "data", ami_port=fake.port)
    runner = web.AppRunner(create_app(world.server.console_deps()), access_log=None)
    try:
        await world.server.ami.wait_ready(WAIT)
        alice = await user_by_name(world.server.database, "alice")
        await set_extension(world.server.database, alice.id, EXTENSION, Actor.system())
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        yield f"http://{host}:{port}", world
    finally:
        await runner.cleanup()
        await world.server.stop()
        await fake.stop()


async def _log_in(browser: Any, base: str, username: str, target: str) -> Any:
    return await page_as(browser, base, username, target, timeout_ms=TIMEOUT_MS)


async def _ring(world: ConsoleWorld) -> tuple[str, str]:
    """Grace calls; the queue rings Alice: the pop opens with Grace's card."""
    linkedid = f"cc-{uuid.uuid4().hex[:12]}"
    async with world.server.database.transaction() as session:
        session.add(
            Call(
                linkedid=linkedid,
                direction=CallDirection.INBOUND,
                started_at=datetime.now(UTC),
                patient_id=world.grace.id,
                ivr_context={},
            )
        )
    recorder = Recorder(world.server.bus)
    interface = world.server.desk.agents.require("alice").interface
    world.server.desk.pops.on_ringing(
        AgentRinging(
            linkedid,
            "appointments",
            interface,
            "alice",
            "+12125550142",
            None,
            4.0,
            datetime.now(UTC),
        )
    )
    await recorder.wait_for(
        ScreenPopChanged,
        lambda c: c.pop["linkedid"] == linkedid and c.pop["match"] != "pending",
        timeout=WAIT,
    )
    return linkedid, interface


async def _later_appointment(world: ConsoleWorld) -> Appointment:
    """Grace's second appointment, days ahead: past the cancellation cut-off."""
    departments = await world.server.scheduling.list_departments()
    derm = next(d for d in departments if d.name == "Dermatology")
    (slot,) = await world.server.scheduling.next_free_slots(
        department_id=derm.id, from_time=datetime.now(UTC) + timedelta(days=3), limit=1
    )
    return await world.server.appointments.book(
        BookingRequest(world.grace.id, slot.slot_id, channel=Channel.AGENT, actor=Actor.system())
    )


# The same instants formatted by the page's script (static/timefmt.js), across both DST changes.
_INSTANTS = [
    "2026-12-08T13:30:00+00:00",
    "2026-03-08T06:59:00+00:00",
    "2026-03-08T07:00:00+00:00",
    "2026-11-01T05:30:00+00:00",
    "2026-11-01T06:30:00+00:00",
    "2026-12-09T03:00:00Z",
]


async def test_the_agents_call_from_ring_to_disposition(chromium, workspace) -> None:  # noqa: F811
    from playwright.async_api import async_playwright, expect

    base, world = workspace
    expect.set_options(timeout=TIMEOUT_MS)
    tz = world.server.settings.tz
    async with world.server.database.session() as session:
        booked = await session.scalar(
            select(Appointment).where(Appointment.patient_id == world.grace.id)
        )
    assert booked is not None
    when = format_datetime(booked.starts_at, tz, zone=True)
    later = await _later_appointment(world)
    later_when = format_datetime(later.starts_at, tz, zone=True)
    dialogs: list[str] = []
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = await _log_in(browser, base, "alice", "/desk")
            page.on("dialog", lambda dialog: dialogs.append(dialog.message))
            # The browser writes times exactly as the server does, in the hospital's zone.
            shown = await page.evaluate(
                "(xs) => xs.map((x) => window.consoleTime.dateTime(x, { zone: true }))", _INSTANTS
            )
            assert shown == [format_datetime(x, tz, zone=True) for x in _INSTANTS]
            assert shown[1:3] == ["Sun 8 Mar 2026, 01:59 EST", "Sun 8 Mar 2026, 03:00 EDT"]

            await expect(page.locator("#desk-link")).to_have_attribute("data-state", "open")
            await page.click("#sign-in")
            state = page.locator("#agent-state")
            await expect(state).to_have_attribute("data-state", "ready")
            await expect(state).to_have_text("Ready")
            await expect(page.locator("#agent-queues")).to_contain_text("Appointments, Enquiries")

            linkedid, interface = await _ring(world)
            pop = page.locator(f'#pops .pop[data-linkedid="{linkedid}"]')
            await expect(pop.locator(".pop-record")).to_have_text("MRN-4242")
            await expect(pop.locator(".pop-meta")).to_contain_text("Appointments queue")
            await expect(pop.locator(".pop-language")).to_have_text("English")
            # The pop and the patient card show the appointment the same way.
            await expect(pop.locator(".pop-appointments li").first).to_contain_text(when)

            world.server.desk.pops.on_answered(
                CallAnswered(linkedid, "appointments", interface, 4.0, datetime.now(UTC))
            )
            await expect(pop).to_have_attribute("data-phase", "answered")
            # No disposition preselected; none can be saved while the call is live.
            disposition = pop.locator(".disposition")
            await expect(disposition).to_have_value("")
            await expect(disposition.locator("option").first).to_have_text("Choose…")
            await expect(disposition.locator("option[value=wrong_number]")).to_have_text(
                "Wrong number"
            )
            save = pop.locator(".save-disposition")
            await expect(save).to_be_disabled()
            await expect(pop.locator(".disposition-hint")).to_contain_text(
                "once the call has ended"
            )
            # Enter in the closing note saves the note; the pop stays.
            await disposition.select_option("booked")
            await pop.locator(".closing-note").fill("asked about parking")
            await pop.locator(".closing-note").press("Enter")
            await expect(pop.locator(".pop-message")).to_have_text("Note added")
            await expect(pop).to_have_count(1)
            await expect(pop.locator(".closing-note")).to_have_value("")

            # Signing out in the middle of the call is refused, with the reason.
            await page.click("#sign-out")
            await expect(page.locator("#desk-error")).to_contain_text("You are on a call")
            assert world.server.desk.agents.status("alice") is not None

            # Cancelling asks first, with a reason; Escape keeps the appointment.
            item = pop.locator(f'.pop-appointments li[data-appointment-id="{later.id}"]')
            cancel = item.locator(".cancel-appointment")
            await cancel.click()
            dialog = page.locator("#cancel-dialog")
            await expect(dialog).to_be_visible()
            await expect(dialog.locator("#cancel-dialog-what")).to_contain_text(later_when)
            await expect(dialog.locator(".cancel-reason")).to_be_focused()
            await page.keyboard.press("Escape")
            await expect(dialog).to_be_hidden()
            await expect(pop.locator(".pop-message")).to_have_text("Appointment kept")
            await cancel.click()
            await dialog.locator(".cancel-confirm").click()  # no reason chosen: refused
            await expect(dialog).to_be_visible()
            await dialog.locator(".cancel-reason").select_option("Patient is unwell")
            await dialog.locator(".cancel-details").fill("flu")
            await dialog.locator(".cancel-confirm").press("Enter")
            await expect(dialog).to_be_hidden()
            await expect(pop.locator(".pop-message")).to_contain_text("Appointment cancelled")
            await expect(pop.locator(".pop-appointments li")).to_have_count(1)
            async with world.server.database.session() as session:
                cancelled = await session.get(Appointment, later.id)
            assert cancelled is not None and cancelled.status is AppointmentStatus.CANCELLED
            assert cancelled.cancel_reason == "Patient is unwell: flu"

            world.server.desk.pops.on_ended(
                CallEnded(linkedid, "completed", False, 16, datetime.now(UTC))
            )
            await expect(save).to_be_enabled()
            await expect(page.locator("#desk-error")).to_be_hidden()  # the warning is over
            await expect(pop.locator(".disposition-hint")).to_have_text("")
            await disposition.select_option("")
            await save.click()  # nothing chosen: the browser asks for a choice
            await expect(pop).to_have_count(1)
            await disposition.select_option("information")
            await save.click()
            await expect(pop).to_have_count(0)
            async with world.server.database.session() as session:
                call = await session.scalar(select(Call).where(Call.linkedid == linkedid))
            assert call is not None and call.disposition == "information"
            assert "asked about parking" in (call.notes or "")
            assert dialogs == []

            await page.goto(f"{base}/patients/{world.grace.id}")
            await expect(page.locator("#appointments td.when")).to_have_text([when])
        finally:
            await browser.close()


async def test_card_and_board_show_the_local_format_and_labels(chromium, workspace) -> None:  # noqa: F811
    from playwright.async_api import async_playwright, expect

    base, world = workspace
    expect.set_options(timeout=TIMEOUT_MS)
    async with world.server.database.session() as session:
        booked = await session.scalar(
            select(Appointment).where(Appointment.patient_id == world.grace.id)
        )
    assert booked is not None
    when = format_datetime(booked.starts_at, world.server.settings.tz, zone=True)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = await _log_in(browser, base, "alice", f"/patients/{world.grace.id}")
            await expect(page.locator("#appointments td.when")).to_have_text(when)
            await expect(page.locator("#appointments th").first).to_have_text("When")
            # An agent sent to the board is told why, and led back to the desk.
            await page.goto(f"{base}/supervisor")
            await expect(page.locator("#error-title")).to_contain_text("supervisors")
            await page.click("#back-to-desk")
            await page.wait_for_url(f"{base}/desk")

            board = await _log_in(browser, base, "sam", "/supervisor")
            await board.wait_for_selector('#board-link[data-state="open"]')
            world.server.bus.publish(
                AmiEvent(
                    "QueueMemberAdded",
                    Headers(
                        [
                            ("Queue", "appointments"),
                            ("Interface", "PJSIP/7777"),
                            ("MemberName", "Alice Agent"),
                            ("Status", "1"),
                            ("Paused", "0"),
                        ]
                    ),
                    received_at=time.time(),
                )
            )
            row = board.locator('tr[data-interface="PJSIP/7777"]')
            await expect(row.locator(".state")).to_have_text("Ready")
            await expect(row.locator("td").nth(3)).to_have_text("Appointments")
            queue = board.locator('#board-queues tr[data-queue="appointments"] td').first
            await expect(queue).to_have_text("Appointments")
            await expect(board.locator("#board-zone")).to_contain_text("New York time (E")
            await expect(board.locator("#board-chart text").first).to_contain_text("hours in E")
            await expect(board.locator("#board-chart text").nth(1)).to_have_text("00:00")
        finally:
            await browser.close()
