"""The agent's workspace rules over HTTP, on a real server with a fake AMI, on both engines.

A disposition waits for the end of the call (409 while it is live; a note does not wait); the
home page shows each role its links and only admins the technical details; an agent sent to a
supervisor's page is told why and led back to the desk; the patient card shows times in the
hospital's zone in the console's one format.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from callcenter.agents.notifier import ScreenPopChanged
from callcenter.calls.state import AgentRinging, CallAnswered, CallEnded
from hcrm_core.actors import Actor
from hcrm_core.db import Database
from hcrm_core.models import Appointment, Call, CallDirection
from hcrm_core.services.users import set_extension, user_by_name
from tests.support.console import ConsoleWorld, login, start_console_world
from tests.support.fake_ami import FakeAmi
from tests.support.rig import Recorder
from web_console.app import create_app
from web_console.timefmt import format_datetime

_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')
WAIT = 10.0


@pytest.fixture
async def desk_world(database: Database, tmp_path: Path) -> AsyncIterator[ConsoleWorld]:
    await database.dispose()
    fake = FakeAmi(secret="not-used")
    fake.succeed |= {"queueadd", "queueremove", "queuepause"}
    await fake.start()
    world = await start_console_world(tmp_path / "data", database.url, ami_port=fake.port)
    try:
        await world.server.ami.wait_ready(WAIT)
        yield world
    finally:
        await world.server.stop()
        await fake.stop()


async def _client(world: ConsoleWorld, aiohttp_client: Any, user: str) -> tuple[Any, str]:
    client = await aiohttp_client(create_app(world.server.console_deps()))
    assert (await login(client, user)).status == 302
    match = _META.search(await (await client.get("/desk")).text())
    assert match
    return client, match.group(1)


async def _ringing_call(world: ConsoleWorld, username: str) -> str:
    """A call (its row written) ringing on the agent's desk, its card assembled."""
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
    status = world.server.desk.agents.require(username)
    world.server.desk.pops.on_ringing(
        AgentRinging(
            linkedid, "appointments", status.interface, username, None, None, 1.0, datetime.now(UTC)
        )
    )
    await recorder.wait_for(
        ScreenPopChanged,
        lambda c: c.pop["linkedid"] == linkedid and c.pop["match"] != "pending",
        timeout=WAIT,
    )
    return linkedid


async def test_a_disposition_waits_for_the_end_of_the_call_a_note_does_not(
    desk_world: ConsoleWorld, aiohttp_client: Any
) -> None:
    world = desk_world
    alice = await user_by_name(world.server.database, "alice")
    await set_extension(world.server.database, alice.id, "1001", Actor.system())
    client, token = await _client(world, aiohttp_client, "alice")
    headers = {"X-CSRF-Token": token}
    assert (await client.post("/api/v1/desk/sign-in", json={}, headers=headers)).status == 200
    linkedid = await _ringing_call(world, "alice")
    url = f"/api/v1/desk/pops/{linkedid}/disposition"
    pops = world.server.desk.pops
    interface = world.server.desk.agents.require("alice").interface

    for phase in ("ringing", "answered"):
        if phase == "answered":
            pops.on_answered(
                CallAnswered(linkedid, "appointments", interface, 1.0, datetime.now(UTC))
            )
        assert pops.get("alice", linkedid).phase == phase
        refused = await client.post(url, json={"disposition": "booked"}, headers=headers)
        answer = await refused.json()
        assert refused.status == 409, answer
        assert answer["error"] == "call_still_live"
        assert "still live" in answer["message"] and "note" in answer["message"]

    noted = await client.post(
        f"/api/v1/calls/{linkedid}/notes", json={"note": "asked about parking"}, headers=headers
    )
    assert noted.status == 200, await noted.text()
    async with world.server.database.session() as session:
        call = await session.scalar(select(Call).where(Call.linkedid == linkedid))
    assert call is not None and call.disposition is None
    assert "asked about parking" in (call.notes or "")
    assert [p.linkedid for p in pops.open_pops("alice")] == [linkedid]

    pops.on_ended(CallEnded(linkedid, "completed", False, 16, datetime.now(UTC)))
    missing = await client.post(url, json={}, headers=headers)
    assert (missing.status, (await missing.json())["field"]) == (422, "disposition")
    saved = await client.post(url, json={"disposition": "information"}, headers=headers)
    assert saved.status == 200, await saved.text()
    assert pops.open_pops("alice") == []


async def test_home_page_by_role_and_technical_details_for_admins_only(
    world: ConsoleWorld, aiohttp_client: Any
) -> None:
    pages = {}
    for user in ("alice", "sam", "ada"):
        client = await aiohttp_client(create_app(world.server.console_deps()))
        assert (await login(client, user)).status == 302
        pages[user] = await (await client.get("/")).text()
    agent, supervisor, admin = pages["alice"], pages["sam"], pages["ada"]
    for text in (agent, supervisor, admin):
        assert 'href="/desk"' in text and 'href="/patients"' in text
        assert "running on" not in text
        assert "New York time" in text  # the zone the times are in
    assert 'href="/supervisor"' not in agent and 'href="/campaigns"' not in agent
    assert 'href="/supervisor"' in supervisor and 'href="/admin/users"' not in supervisor
    assert 'href="/admin/users"' in admin
    for text in (agent, supervisor):
        assert "tech-details" not in text and "sqlite" not in text and "ami-state" not in text
    assert 'id="tech-details"' in admin and "sqlite" in admin and 'id="ami-state"' in admin


async def test_an_agent_on_a_supervisor_page_is_told_why_and_led_back_to_the_desk(
    world: ConsoleWorld, aiohttp_client: Any
) -> None:
    client = await aiohttp_client(create_app(world.server.console_deps()))
    assert (await login(client, "alice")).status == 302
    for path in ("/supervisor", "/campaigns"):
        page = await client.get(path)
        text = await page.text()
        assert page.status == 403
        assert "for supervisors and administrators" in text
        assert 'href="/desk"' in text and "Back to your desk" in text
        assert "Sorry" not in text


async def test_the_patient_card_shows_times_in_the_hospitals_zone(
    world: ConsoleWorld, aiohttp_client: Any
) -> None:
    client = await aiohttp_client(create_app(world.server.console_deps()))
    assert (await login(client, "alice")).status == 302
    async with world.server.database.session() as session:
        appointment = await session.scalar(
            select(Appointment).where(Appointment.patient_id == world.grace.id)
        )
    assert appointment is not None
    text = await (await client.get(f"/patients/{world.grace.id}")).text()
    shown = format_datetime(appointment.starts_at, world.server.settings.tz, zone=True)
    assert re.fullmatch(r"\w{3} \d{1,2} \w{3} \d{4}, \d{2}:\d{2} E[SD]T", shown)
    assert shown in text
    assert "(UTC)" not in text and "+00:00</td>" not in text
    assert "<dd>Unknown</dd>" in text or "<dd>Female</dd>" in text or "<dd>Male</dd>" in text
