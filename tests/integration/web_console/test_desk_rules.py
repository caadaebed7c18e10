"""Who may do what at the desk, on a real server with a fake AMI, on both engines.

Item by item: an agent reads and annotates only their own calls or those of the patient on
their desk; signs in only on the extension an admin assigned them; and every sign-in,
sign-out, click-to-dial and listen/whisper/barge leaves audit rows (the attempt first).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from callcenter.agents.notifier import ScreenPopChanged
from callcenter.ami.events import AmiEvent, Headers
from callcenter.calls.state import AgentRinging
from hcrm_core.actors import Actor
from hcrm_core.db import Database
from hcrm_core.models import AuditAction, AuditEvent, Call, CallDirection
from hcrm_core.services.users import set_extension, user_by_name
from tests.support.console import ConsoleWorld, login, start_console_world
from tests.support.fake_ami import FakeAmi
from tests.support.rig import Recorder
from web_console.app import create_app

_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')
WAIT = 10.0


@dataclass
class DeskWorld:
    world: ConsoleWorld
    fake: FakeAmi

    @property
    def server(self) -> Any:
        return self.world.server


@pytest.fixture
async def desk_world(database: Database, tmp_path: Path) -> AsyncIterator[DeskWorld]:
    await database.dispose()
    fake = FakeAmi(secret="not-used")
    fake.succeed |= {"queueadd", "queueremove", "queuepause"}
    await fake.start()
    world = await start_console_world(tmp_path / "data", database.url, ami_port=fake.port)
    try:
        await world.server.ami.wait_ready(WAIT)
        yield DeskWorld(world, fake)
    finally:
        await world.server.stop()
        await fake.stop()


async def _client(desk: DeskWorld, aiohttp_client: Any, user: str) -> tuple[Any, dict[str, str]]:
    client = await aiohttp_client(create_app(desk.server.console_deps()))
    assert (await login(client, user)).status == 302
    match = _META.search(await (await client.get("/desk")).text())
    assert match
    return client, {"X-CSRF-Token": match.group(1)}


async def _assign(desk: DeskWorld, username: str, extension: str) -> int:
    user = await user_by_name(desk.server.database, username)
    await set_extension(desk.server.database, user.id, extension, Actor.system())
    return user.id


async def _call(desk: DeskWorld, patient_id: int, agent_user_id: int | None) -> str:
    linkedid = f"cc-{uuid.uuid4().hex[:12]}"
    async with desk.server.database.transaction() as session:
        session.add(
            Call(
                linkedid=linkedid,
                direction=CallDirection.INBOUND,
                started_at=datetime.now(UTC),
                patient_id=patient_id,
                agent_user_id=agent_user_id,
                ivr_context={},
            )
        )
    return linkedid


async def _audit(desk: DeskWorld, entity: str) -> list[AuditEvent]:
    async with desk.server.database.session() as session:
        rows = await session.scalars(
            select(AuditEvent).where(AuditEvent.entity == entity).order_by(AuditEvent.id)
        )
        return list(rows)


async def _ring(desk: DeskWorld, username: str, linkedid: str) -> None:
    """The queue rings this agent for the call: a pop opens on their desk (its card looked up)."""
    recorder = Recorder(desk.server.bus)
    status = desk.server.desk.agents.require(username)
    desk.server.desk.pops.on_ringing(
        AgentRinging(
            linkedid, "appointments", status.interface, username, None, None, 1.0, datetime.now(UTC)
        )
    )
    await recorder.wait_for(
        ScreenPopChanged,
        lambda c: c.pop["linkedid"] == linkedid and c.pop["match"] != "pending",
        timeout=WAIT,
    )


async def test_agents_see_their_own_calls_or_those_of_the_patient_on_their_desk(
    desk_world: DeskWorld, aiohttp_client: Any
) -> None:
    desk, grace, script = desk_world, desk_world.world.grace.id, desk_world.world.script.id
    alice_id = await _assign(desk, "alice", "1001")
    other_id = await _assign(desk, "agent1", "1002")
    mine = await _call(desk, grace, alice_id)
    theirs = await _call(desk, grace, other_id)
    ringing = await _call(desk, script, None)
    alice, alice_headers = await _client(desk, aiohttp_client, "alice")
    other, other_headers = await _client(desk, aiohttp_client, "agent1")
    sam, _ = await _client(desk, aiohttp_client, "sam")

    assert (await alice.get(f"/api/v1/calls/{mine}")).status == 200
    refused = await alice.get(f"/api/v1/calls/{theirs}")
    assert (refused.status, (await refused.json())["error"]) == (403, "call_forbidden")
    note = {"note": "not mine to write"}
    written = await alice.post(f"/api/v1/calls/{theirs}/notes", json=note, headers=alice_headers)
    assert written.status == 403
    listed = await (await alice.get(f"/api/v1/patients/{grace}/calls")).json()
    assert [c["linkedid"] for c in listed["calls"]] == [mine]
    assert (await other.get(f"/api/v1/calls/{mine}")).status == 403
    everything = await (await sam.get(f"/api/v1/patients/{grace}/calls")).json()
    assert {c["linkedid"] for c in everything["calls"]} == {mine, theirs}
    assert (await sam.get(f"/api/v1/calls/{ringing}")).status == 200

    # Alice takes a call: on her desk, she reads and annotates it; agent1 does not.
    signed = await alice.post("/api/v1/desk/sign-in", json={}, headers=alice_headers)
    assert signed.status == 200, await signed.text()
    await _ring(desk, "alice", ringing)
    assert (await alice.get(f"/api/v1/calls/{ringing}")).status == 200
    noted = await alice.post(
        f"/api/v1/calls/{ringing}/notes", json={"note": "caller on hold"}, headers=alice_headers
    )
    assert noted.status == 200
    assert (await other.get(f"/api/v1/calls/{ringing}")).status == 403
    assert (
        await other.post(f"/api/v1/calls/{ringing}/notes", json=note, headers=other_headers)
    ).status == 403
    # She says the caller is Grace: while she serves Grace, Grace's calls are hers to read.
    chosen = await alice.post(
        f"/api/v1/desk/pops/{ringing}/patient", json={"patient_id": grace}, headers=alice_headers
    )
    assert chosen.status == 200, await chosen.text()
    assert (await alice.get(f"/api/v1/calls/{theirs}")).status == 200
    serving = await (await alice.get(f"/api/v1/patients/{grace}/calls")).json()
    assert {c["linkedid"] for c in serving["calls"]} == {mine, theirs, ringing}
    # The pop closes: back to her own calls only.
    desk.server.desk.pops.dismiss("alice", ringing)
    assert (await alice.get(f"/api/v1/calls/{theirs}")).status == 403
    async with desk.server.database.session() as session:
        stored = await session.scalar(select(Call).where(Call.linkedid == theirs))
    assert stored is not None and stored.notes is None


async def test_desk_sign_in_only_on_the_assigned_extension_and_audited(
    desk_world: DeskWorld, aiohttp_client: Any
) -> None:
    desk = desk_world
    alice, headers = await _client(desk, aiohttp_client, "alice")
    admin, admin_headers = await _client(desk, aiohttp_client, "ada")
    url = "/api/v1/desk/sign-in"
    unassigned = await alice.post(url, json={"extension": "1001"}, headers=headers)
    answer = await unassigned.json()
    assert (unassigned.status, answer["field"]) == (403, "extension")
    assert "set-extension" in answer["message"]

    # Only an admin assigns extensions (audited); agents cannot give themselves one.
    alice_id = desk.world.agent_id
    path = f"/api/v1/users/{alice_id}"
    assert (await alice.patch(path, json={"extension": "1001"}, headers=headers)).status == 403
    bad = await admin.patch(path, json={"extension": "10;01"}, headers=admin_headers)
    assert (bad.status, (await bad.json())["field"]) == (422, "extension")
    missing = await admin.patch(path, json={}, headers=admin_headers)
    assert (missing.status, (await missing.json())["field"]) == (422, "body")
    assigned = await admin.patch(path, json={"extension": "1001"}, headers=admin_headers)
    assert (assigned.status, (await assigned.json())["extension"]) == (200, "1001")
    other = (await user_by_name(desk.server.database, "agent1")).id
    taken = await admin.patch(
        f"/api/v1/users/{other}", json={"extension": "1001"}, headers=admin_headers
    )
    assert taken.status == 409
    (change,) = [r for r in await _audit(desk, "user") if r.action is AuditAction.UPDATE]
    assert change.entity_id == str(alice_id) and change.detail["extension"] == [None, "1001"]

    colleague = await alice.post(url, json={"extension": "1002"}, headers=headers)
    answer = await colleague.json()
    assert (colleague.status, answer["field"]) == (403, "extension")
    assert "1001" in answer["message"]
    assert desk.server.desk.agents.status("alice") is None
    assert all(a["Interface"] != "PJSIP/1002" for a in desk.fake.actions("queueadd"))
    signed = await alice.post(url, json={"extension": "1001"}, headers=headers)
    assert signed.status == 200, await signed.text()
    assert desk.server.desk.agents.require("alice").interface == "PJSIP/1001"

    dialled = await alice.post(
        "/api/v1/desk/dial", json={"number": "+1 212 555 0142"}, headers=headers
    )
    assert dialled.status == 202, await dialled.text()
    refused_dial = await alice.post("/api/v1/desk/dial", json={"number": "12"}, headers=headers)
    assert refused_dial.status == 422
    signed_out = await alice.post("/api/v1/desk/sign-out", json={}, headers=headers)
    assert signed_out.status == 200

    rows = [(r.action, r.actor_user_id, r.detail) for r in await _audit(desk, "desk")]
    events = [(d["event"], d["outcome"]) for _a, _u, d in rows]
    assert events == [
        ("sign_in", "refused: extension_not_assigned"),
        ("sign_in", "refused: extension_not_assigned"),
        ("sign_in", "signed_in"),
        ("dial", "attempt"),
        ("dial", "placed"),
        ("dial", "attempt"),
        ("dial", "refused: invalid"),
        ("sign_out", "signed_out"),
    ]
    assert {u for _a, u, _d in rows} == {alice_id}
    assert rows[1][2]["extension"] == "1002" and rows[2][2]["extension"] == "1001"
    assert rows[4][2]["number"] == "+12125550142" and rows[4][2]["linkedid"].startswith("c2d-")


async def test_monitoring_is_audited_before_the_originate_and_after(
    desk_world: DeskWorld, aiohttp_client: Any
) -> None:
    desk = desk_world
    linkedid = f"1700{uuid.uuid4().int % 10**6:06d}.1"
    for name, headers in (
        ("Newchannel", {"Channel": "PJSIP/trunk-00000001", "Context": "from-trunk"}),
        (
            "AgentConnect",
            {
                "Channel": "PJSIP/trunk-00000001",
                "Queue": "appointments",
                "Interface": "PJSIP/1001",
                "DestChannel": "PJSIP/1001-0000002a",
                "HoldTime": "3",
            },
        ),
    ):
        desk.server.calls.process(
            AmiEvent(
                name, Headers.from_mapping({"Linkedid": linkedid, "Uniqueid": linkedid, **headers})
            )
        )
    sam, _ = await _client(desk, aiohttp_client, "sam")
    token = _META.search(await (await sam.get("/desk")).text())
    assert token
    form = {"csrf_token": token.group(1), "linkedid": linkedid, "mode": "whisper"}
    url = "/api/v1/recordings/monitor"
    no_phone = await sam.post(url, data=form)
    assert (no_phone.status, (await no_phone.json())["field"]) == (422, "extension")
    await _assign(desk, "sam", "1009")
    placed = await sam.post(url, data=form)
    assert placed.status == 200, await placed.text()
    action_id = (await placed.json())["action_id"]
    assert [a["ActionID"] for a in desk.fake.actions("originate")] == [action_id]
    rows = await _audit(desk, "call_monitor")
    assert [(r.entity_id, r.action, r.detail["outcome"]) for r in rows] == [
        (linkedid, AuditAction.PLAY, "attempt"),
        (linkedid, AuditAction.PLAY, "refused: invalid"),
        (linkedid, AuditAction.PLAY, "attempt"),
        (linkedid, AuditAction.PLAY, "placed"),
    ]
    assert rows[2].detail["extension"] == "1009" and rows[3].detail["action_id"] == action_id
    assert {r.detail["mode"] for r in rows} == {"whisper"}
