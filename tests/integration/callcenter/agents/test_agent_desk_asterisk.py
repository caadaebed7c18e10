"""The agent desk against the real Asterisk sandbox: membership, pause, state, screen pops.

A whole server (``start_server``) runs on the sandbox with the Local-channel agent
interface (``Local/<ext>@sim-agents``: 1XXX answer by themselves); membership is checked in
Asterisk's own ``QueueStatus``, and every wait is on a bus message, never a fixed sleep.
"""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from callcenter.agents.notifier import AgentStateChanged, ScreenPopChanged
from callcenter.ami.events import AmiEvent, AmiResynced
from callcenter.asterisk import const
from callcenter.calls.state import IvrProgress
from callcenter.server.root import Server
from hcrm_core.models import AuditEvent, Role
from hcrm_core.services.users import create_user
from tests.support.desk import quietest_queue
from tests.support.factories import make_patient
from tests.support.rig import agent_extension

pytestmark = pytest.mark.asterisk
WAIT = 30.0
SIM_INTERFACE = f"Local/{{extension}}@{const.CONTEXT_SIM_AGENTS}"
PHONE = "+12125550199"
HOSPITAL_CID = "+12125550100"


async def _members(server: Server, interface: str) -> dict[str, AmiEvent]:
    """Asterisk's own view: QueueMember rows of this interface, by queue."""
    rows = await server.ami.queue_status()
    return {
        e.queue: e
        for e in rows
        if e.name == "QueueMember"
        and (e.get("StateInterface") == interface or e.get("Location") == interface)
    }


async def test_sign_in_pause_resume_sign_out_show_in_asterisk(desk_server) -> None:
    server, recorder, user_id = desk_server
    agents = server.desk.agents
    extension = agent_extension(2)  # 2XXX never answer: nothing can ring them away from "ready"
    interface = f"Local/{extension}@{const.CONTEXT_SIM_AGENTS}"

    await agents.sign_in(user_id, "alice", extension)
    members = await _members(server, interface)
    assert set(members) == {q.name for q in const.QUEUES}
    assert {m.get("Name") for m in members.values()} == {"alice"}
    assert {m.get("Paused") for m in members.values()} == {"0"}
    await recorder.wait_for(
        AmiEvent,
        lambda e: e.name == "QueueMemberAdded" and e.get("Interface") == interface,
        count=len(const.QUEUES),
    )
    assert agents.require("alice").state.value == "ready"

    await agents.pause("alice", "lunch")
    await recorder.wait_for(
        AmiEvent, lambda e: e.name == "QueueMemberPause" and e.get("Interface") == interface
    )
    members = await _members(server, interface)
    assert {m.get("Paused") for m in members.values()} == {"1"}
    assert {m.get("PausedReason") for m in members.values()} == {"lunch"}
    state = await recorder.wait_for(
        AgentStateChanged,
        lambda c: c.agent["state"] == "paused" and c.agent["pause_reason"] == "lunch",
    )
    assert state[-1].username == "alice"

    await agents.resume("alice")
    members = await _members(server, interface)
    assert {m.get("Paused") for m in members.values()} == {"0"}
    assert agents.require("alice").state.value == "ready"

    await agents.sign_out("alice")
    assert await _members(server, interface) == {}
    assert agents.status("alice") is None
    await recorder.wait_for(AgentStateChanged, lambda c: c.agent["state"] == "signed_out")


async def test_members_are_restored_after_the_ami_link_comes_back(desk_server) -> None:
    server, recorder, user_id = desk_server
    extension = agent_extension(2)
    interface = f"Local/{extension}@{const.CONTEXT_SIM_AGENTS}"
    await server.desk.agents.sign_in(user_id, "alice", extension)
    await server.desk.agents.pause("alice", "break")
    # Asterisk forgets the member (as after its restart), then our link drops and comes back.
    for queue in const.QUEUES:
        await server.ami.send_action(
            {"Action": "QueueRemove", "Queue": queue.name, "Interface": interface}
        )
    assert await _members(server, interface) == {}
    resyncs = len(recorder.of(AmiResynced))
    server.ami._connection.drop("test: link lost")
    await recorder.wait_for(AmiResynced, count=resyncs + 1)
    # Each queue: added at sign-in and again at the restore; paused by us and by the restore.
    queues = len(const.QUEUES)
    for name in ("QueueMemberAdded", "QueueMemberPause"):
        await recorder.wait_for(
            AmiEvent,
            lambda e, name=name: e.name == name and e.get("Interface") == interface,
            count=2 * queues,
        )
    members = await _members(server, interface)
    assert set(members) == {q.name for q in const.QUEUES}
    assert {m.get("Paused") for m in members.values()} == {"1"}
    assert {m.get("PausedReason") for m in members.values()} == {"break"}


async def test_queue_call_pops_the_callers_card_on_the_right_agent(desk_server) -> None:
    server, recorder, user_id = desk_server
    policy = server.settings.booking_policy()
    patient = await make_patient(
        server.database, policy, given_name="Popped", phones=("(212) 555-0199",)
    )
    extension = agent_extension(1)
    await server.desk.agents.sign_in(user_id, "alice", extension)
    queue = const.QUEUES[0].name
    linkedid = f"cc-{uuid.uuid4().hex[:16]}"
    await server.ami.originate(
        f"Local/s@{const.CONTEXT_SIM_PATIENT}",
        context=const.CONTEXT_QUEUES,
        exten=queue,
        caller_id=f'"Someone" <{PHONE}>',
        channel_id=linkedid,
        variables={"SIM_HOLD": "20", "__SIM_AGENT_RING": "1", "__SIM_AGENT_TALK": "2"},
    )

    def pop_of(phase: str):
        return lambda c: c.pop["linkedid"] == linkedid and c.pop["phase"] == phase

    carded = await recorder.wait_for(
        ScreenPopChanged,
        lambda c: c.pop["linkedid"] == linkedid and c.pop["patient"] is not None,
        timeout=WAIT,
    )
    pop = carded[-1]
    assert pop.username == "alice"
    assert pop.pop["match"] == "caller_id"
    assert pop.pop["patient"]["mrn"] == patient.mrn
    assert pop.pop["patient"]["name"] == patient.full_name
    assert pop.pop["queue"] == queue and pop.pop["caller_number"] == PHONE
    await recorder.wait_for(ScreenPopChanged, pop_of("answered"), timeout=WAIT)
    await recorder.wait_for(
        AgentStateChanged, lambda c: c.username == "alice" and c.agent["state"] == "on_call"
    )
    await recorder.wait_for(ScreenPopChanged, pop_of("ended"), timeout=WAIT)
    await recorder.wait_for(
        AgentStateChanged, lambda c: c.username == "alice" and c.agent["state"] == "wrap_up"
    )
    # The pop stays until a disposition is saved.
    assert [p.linkedid for p in server.desk.pops.open_pops("alice")] == [linkedid]
    # Wrap-up holds the phone out of the queues (no next call) until the disposition...
    await server.desk.agents.settled("alice")
    interface = server.desk.agents.require("alice").interface
    held = await _members(server, interface)
    assert {(m.get("Paused"), m.get("PausedReason")) for m in held.values()} == {("1", "wrap-up")}
    # ...and the agent's own pause is not touched by it.
    assert server.desk.agents.require("alice").pause_reason == ""
    server.desk.agents.wrap_up_done("alice", linkedid)
    await server.desk.agents.settled("alice")
    assert server.desk.agents.require("alice").state.value == "ready"
    released = await _members(server, interface)
    assert {m.get("Paused") for m in released.values()} == {"0"}
    async with server.database.session() as session:
        audit = (
            await session.scalars(
                select(AuditEvent).where(
                    AuditEvent.entity == "patient", AuditEvent.patient_id == patient.id
                )
            )
        ).all()
    views = [a for a in audit if a.detail.get("via") == "screen_pop"]
    assert len(views) == 1
    assert views[0].actor_user_id == user_id and views[0].source == linkedid


async def test_click_to_dial_rings_the_agent_first_with_the_hospital_caller_id(desk_server):
    server, recorder, user_id = desk_server
    extension = agent_extension(1)
    await server.desk.agents.sign_in(user_id, "alice", extension)
    placed = await server.desk.dialer.dial("alice", "(212) 555-0142")
    assert placed.number == "+12125550142"
    assert placed.interface == f"Local/{extension}@{const.CONTEXT_SIM_AGENTS}"
    # The agent's phone rings first (the sim phone then picks up by itself)...
    await recorder.wait_for(
        AmiEvent,
        lambda e: (
            e.get("UserEvent") == "SimAgent"
            and e.get("Agent") == extension
            and e.get("Step") == "ringing"
        ),
    )
    # ...and Asterisk reports the originate answered, under the hospital's caller ID.
    (response,) = await recorder.wait_for(
        AmiEvent, lambda e: e.name == "OriginateResponse" and e.uniqueid == placed.channel_id
    )
    assert (response.get("Response"), response.get("Reason")) == ("Success", "4")  # answered
    assert response.caller_id_num == HOSPITAL_CID
    # ...and then continues to the patient's number, as E.164 digits, in the dial context.
    assert (response.get("Context"), response.get("Exten")) == (
        "callcenter-outbound-dial",
        "+12125550142",
    )


async def test_pops_prefer_the_ivr_identity_and_list_or_offer_registration(desk_server):
    server, recorder, user_id = desk_server
    policy = server.settings.booking_policy()
    by_caller_id = await make_patient(server.database, policy, phones=("+12125550161",))
    confirmed = await make_patient(server.database, policy, given_name="Confirmed")
    twin_a = await make_patient(server.database, policy, phones=("+12125550162",))
    twin_b = await make_patient(server.database, policy, phones=("212-555-0162",))
    async with server.database.transaction() as session:
        for name in ("bob", "carol"):
            await create_user(
                session, username=name, password="correct-horse-battery", role=Role.AGENT
            )
    # Phones that ring until the caller gives up: each agent rings with one caller.
    for username, uid in (("alice", user_id), ("bob", user_id + 1), ("carol", user_id + 2)):
        await server.desk.agents.sign_in(uid, username, agent_extension(2))
    queue = await quietest_queue(server)
    calls = {}
    for case, number in (
        ("ivr", "+12125550161"),
        ("several", "+12125550162"),
        ("unknown", "+12125550163"),
    ):
        linkedid = f"cc-{uuid.uuid4().hex[:16]}"
        if case == "ivr":
            # What the IVR publishes once the caller confirmed their date of birth.
            server.bus.publish(
                IvrProgress(
                    linkedid,
                    "identified",
                    {"patient_id": confirmed.id, "identified_by": "caller_id+dob"},
                    patient_id=confirmed.id,
                )
            )
        await server.ami.originate(
            f"Local/hangup@{const.CONTEXT_SIM_PATIENT}",
            context=const.CONTEXT_QUEUES,
            exten=queue,
            caller_id=f"<{number}>",
            channel_id=linkedid,
            variables={"SIM_DELAY": "8"},
        )
        calls[case] = linkedid

    def assembled(linkedid: str):
        return lambda c: c.pop["linkedid"] == linkedid and c.pop["match"] != "pending"

    pops = {}
    for case, linkedid in calls.items():
        pops[case] = (await recorder.wait_for(ScreenPopChanged, assembled(linkedid)))[-1].pop
    assert pops["ivr"]["match"] == "ivr"
    assert pops["ivr"]["patient"]["id"] == confirmed.id != by_caller_id.id
    assert pops["several"]["match"] == "several" and pops["several"]["patient"] is None
    assert {c["id"] for c in pops["several"]["candidates"]} == {twin_a.id, twin_b.id}
    assert pops["unknown"]["match"] == "unknown"
    assert pops["unknown"]["prefill"] == {"phone": "+12125550163"}
    # The callers give up while ringing: their pops go away without a disposition.
    for linkedid in calls.values():
        await recorder.wait_for(
            ScreenPopChanged,
            lambda c, lid=linkedid: c.pop["linkedid"] == lid and c.pop["phase"] == "caller_left",
        )
    for username in ("alice", "bob", "carol"):
        assert server.desk.pops.open_pops(username) == []
