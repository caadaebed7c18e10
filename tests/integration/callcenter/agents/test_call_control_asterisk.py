"""Call control at the desk against the real sandbox: hold, resume, hang up, blind transfer.

One server for the module (``Local/<ext>@sim-agents`` phones: 1XXX answer by themselves and
stay on the call); every wait is on a bus message with a timeout that names what was missing.
The sandbox is shared with other test sessions, so each call goes to the quietest queue and
each test uses extensions of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from typing import TypeVar

import pytest
from sqlalchemy import select

from callcenter.agents.errors import AgentError, CallGone, NotOnCall, TransferTargetInvalid
from callcenter.agents.notifier import AgentStateChanged, ScreenPopChanged
from callcenter.ami.errors import AmiError
from callcenter.ami.events import AmiEvent
from callcenter.asterisk import const
from callcenter.calls.state import CallEnded
from callcenter.server.root import Server
from hcrm_core.actors import Actor
from hcrm_core.models import Call, Recording
from tests.support.asterisk_sandbox import AsteriskSandboxHandle
from tests.support.desk import agent_user, desk_settings, quietest_queue, running_desk
from tests.support.rig import Recorder, agent_extension

pytestmark = pytest.mark.asterisk
WAIT = 30.0
T = TypeVar("T")


@pytest.fixture(scope="module")
async def desk(
    asterisk_sandbox: AsteriskSandboxHandle, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[Server, Recorder, dict[str, int]]]:
    """The server on the sandbox, with agent users alice, bob and carol (not signed in)."""
    settings = desk_settings(asterisk_sandbox, tmp_path_factory.mktemp("call-control"))
    async with running_desk(settings) as (server, recorder):
        users = {name: await agent_user(server, name) for name in ("alice", "bob", "carol")}
        yield server, recorder, users
        for status in server.desk.agents.agents():
            await server.desk.agents.sign_out(status.username)


async def _call_to(
    server: Server, recorder: Recorder, username: str, *, record: str | None = None
) -> str:
    """A caller in the quietest queue, answered by ``username``; returns its Linkedid.

    ``record``: the recording policy the dialplan applies (as the dialer would set it)."""
    queue = await quietest_queue(server)
    linkedid = f"cc-{uuid.uuid4().hex[:16]}"
    await server.ami.originate(
        f"Local/s@{const.CONTEXT_SIM_PATIENT}",
        context=const.CONTEXT_QUEUES,
        exten=queue,
        caller_id='"Caller" <+12125550177>',
        channel_id=linkedid,
        variables={
            "SIM_HOLD": "90",
            "__SIM_AGENT_RING": "1",
            "__SIM_AGENT_TALK": "90",
            **({"CALLCENTER_RECORD": record} if record else {}),
        },
    )
    await recorder.wait_for(
        AgentStateChanged,
        lambda c: (
            c.username == username
            and c.agent["state"] == "on_call"
            and c.agent["linkedid"] == linkedid
        ),
        timeout=WAIT,
    )
    return linkedid


async def _sign_out_all(server: Server) -> None:
    for status in server.desk.agents.agents():
        await server.desk.agents.sign_out(status.username)


async def test_hold_resume_then_hang_up_keep_one_call_record(desk) -> None:
    server, recorder, users = desk
    control = server.desk.call_control
    await server.desk.agents.sign_in(users["alice"], "alice", agent_extension(1))
    try:
        linkedid = await _call_to(server, recorder, "alice")

        held = await control.hold("alice")
        assert held.legs.linkedid == linkedid
        await recorder.wait_for(
            AmiEvent,
            lambda e: e.name == "MusicOnHoldStart" and e.channel == held.legs.caller,
            timeout=WAIT,
        )
        await recorder.wait_for(
            ScreenPopChanged,
            lambda c: c.pop["linkedid"] == linkedid and c.pop["held_at"] == held.since,
        )
        # Asterisk does not count the hold as the end of the queue call.
        assert server.desk.agents.require("alice").state.value == "on_call"

        await control.resume("alice")
        entered = await recorder.wait_for(
            AmiEvent,
            lambda e: (
                e.name == "BridgeEnter"
                and e.linkedid == linkedid
                and e.get("Context") == const.CONTEXT_HOLD
            ),
            count=2,
            timeout=WAIT,
        )
        assert {e.channel for e in entered} == {held.legs.caller, held.legs.agent}
        assert len({e.get("BridgeUniqueid") for e in entered}) == 1
        assert control.held("alice") is None

        assert await control.hang_up("alice") == linkedid
        (ended,) = await recorder.wait_for(
            CallEnded, lambda n: n.linkedid == linkedid, timeout=WAIT
        )
        assert ended.reason == "completed"
        await recorder.wait_for(
            AgentStateChanged, lambda c: c.username == "alice" and c.agent["state"] == "wrap_up"
        )
        # Nothing to act on any more: a clear refusal, nothing sent.
        with pytest.raises(NotOnCall):
            await control.hold("alice")
        await server.call_log.flush()
        async with server.database.session() as session:
            rows = (await session.scalars(select(Call).where(Call.linkedid == linkedid))).all()
        assert len(rows) == 1 and rows[0].end_reason == "completed" and rows[0].transfers == 0
    finally:
        await _sign_out_all(server)


async def test_hold_when_the_caller_just_hung_up_says_so(desk) -> None:
    server, recorder, users = desk
    control = server.desk.call_control
    await server.desk.agents.sign_in(users["alice"], "alice", agent_extension(1))
    try:
        linkedid = await _call_to(server, recorder, "alice")
        # The caller hangs up: Asterisk tears the call down while the desk still shows it.
        channels = await server.ami.core_show_channels()
        caller = next(c.channel for c in channels if c.uniqueid == linkedid)
        await server.ami.send_action({"Action": "Hangup", "Channel": caller})
        with pytest.raises((CallGone, NotOnCall)) as refused:
            await control.hold("alice")
        assert "hung up" in refused.value.message or "not on a call" in refused.value.message
        (ended,) = await recorder.wait_for(
            CallEnded, lambda n: n.linkedid == linkedid, timeout=WAIT
        )
        assert ended.reason == "completed"
    finally:
        await _sign_out_all(server)


async def test_blind_transfer_to_a_queue_moves_the_pop_and_counts_the_transfer(desk) -> None:
    server, recorder, users = desk
    agents, control = server.desk.agents, server.desk.call_control
    await agents.sign_in(users["bob"], "bob", agent_extension(1))
    await agents.pause("bob", "break")  # the first ring is alice's
    await agents.sign_in(users["alice"], "alice", agent_extension(1))
    await agents.sign_in(users["carol"], "carol", agent_extension(2))
    await agents.pause("carol", "lunch")
    try:
        linkedid = await _call_to(server, recorder, "alice")

        # Faults first: each refused with the field named, the call untouched.
        with pytest.raises(TransferTargetInvalid) as paused:
            await control.transfer("alice", "agent", "carol")
        assert paused.value.field == "target" and "lunch" in paused.value.message
        with pytest.raises(TransferTargetInvalid) as bad_number:
            await control.transfer("alice", "number", "12")
        assert bad_number.value.field == "target"
        with pytest.raises(TransferTargetInvalid):
            await control.transfer("alice", "queue", "no-such-queue")
        assert agents.require("alice").state.value == "on_call"

        await agents.resume("bob")
        queue = next(p.queue for p in server.desk.pops.open_pops("alice"))
        done = await control.transfer("alice", "queue", queue)
        assert done.linkedid == linkedid
        await recorder.wait_for(
            AmiEvent, lambda e: e.name == "BlindTransfer" and e.linkedid == linkedid, timeout=WAIT
        )
        # The pop follows the call to the agent who answers next, under the same Linkedid.
        await recorder.wait_for(
            ScreenPopChanged,
            lambda c: (
                c.username == "bob"
                and c.pop["linkedid"] == linkedid
                and c.pop["phase"] == "answered"
            ),
            timeout=WAIT,
        )
        mine = server.desk.pops.get("alice", linkedid)
        assert mine.phase == "transferred"
        await recorder.wait_for(
            AgentStateChanged, lambda c: c.username == "alice" and c.agent["state"] == "wrap_up"
        )
        assert await control.hang_up("bob") == linkedid
        await recorder.wait_for(CallEnded, lambda n: n.linkedid == linkedid, timeout=WAIT)
        await server.call_log.flush()
        async with server.database.session() as session:
            rows = (await session.scalars(select(Call).where(Call.linkedid == linkedid))).all()
        assert len(rows) == 1
        assert rows[0].transfers == 1 and rows[0].end_reason == "completed"
    finally:
        await _sign_out_all(server)


def _pop_phase(username: str, linkedid: str, phase: str):
    return lambda c: (
        c.username == username and c.pop["linkedid"] == linkedid and c.pop["phase"] == phase
    )


async def _consult_state(recorder: Recorder, linkedid: str, state: str, *, count: int = 1) -> None:
    await recorder.wait_for(
        ScreenPopChanged,
        lambda c: (
            c.username == "alice"
            and c.pop["linkedid"] == linkedid
            and (c.pop["consult"] or {}).get("state") == state
        ),
        count=count,
        timeout=WAIT,
    )


async def test_attended_transfer_cancel_then_complete_to_an_agent(desk) -> None:
    server, recorder, users = desk
    agents, control = server.desk.agents, server.desk.call_control
    await agents.sign_in(users["bob"], "bob", agent_extension(1))
    await agents.pause("bob", "break")
    await agents.sign_in(users["alice"], "alice", agent_extension(1))
    try:
        linkedid = await _call_to(server, recorder, "alice")
        await agents.resume("bob")
        # Consult bob, then change one's mind: back with the caller.
        await control.consult("alice", "agent", "bob")
        await _consult_state(recorder, linkedid, "talking")
        await control.cancel_consult("alice")
        assert server.desk.pops.get("alice", linkedid).consult is None
        assert agents.require("alice").state.value == "on_call"
        with pytest.raises(Exception, match="no consultation"):
            await control.complete_consult("alice")
        # Consult again and hand the caller over.
        await recorder.wait_for(
            AgentStateChanged,
            lambda c: c.username == "bob" and c.agent["device"] == "not_inuse",
            timeout=WAIT,
        )
        await control.consult("alice", "agent", "bob")
        await _consult_state(recorder, linkedid, "talking", count=2)
        await control.complete_consult("alice")
        await recorder.wait_for(
            AmiEvent,
            lambda e: (
                e.name == "AttendedTransfer"
                and e.linkedid == linkedid
                and e.get("Result") == "Success"
            ),
            timeout=WAIT,
        )
        await recorder.wait_for(ScreenPopChanged, _pop_phase("bob", linkedid, "answered"))
        await recorder.wait_for(ScreenPopChanged, _pop_phase("alice", linkedid, "transferred"))
        await recorder.wait_for(
            AgentStateChanged,
            lambda c: c.username == "bob" and c.agent["state"] == "on_call",
        )
        # The caller talks to bob now: bob's hold finds them.
        held = await control.hold("bob")
        assert held.legs.linkedid == linkedid
        await control.hang_up("bob")
        await recorder.wait_for(CallEnded, lambda n: n.linkedid == linkedid, timeout=WAIT)
        await recorder.wait_for(
            AgentStateChanged, lambda c: c.username == "bob" and c.agent["state"] == "wrap_up"
        )
        await server.call_log.flush()
        async with server.database.session() as session:
            rows = (await session.scalars(select(Call).where(Call.linkedid == linkedid))).all()
        assert len(rows) == 1 and rows[0].transfers == 1
    finally:
        await _sign_out_all(server)


async def test_consulted_party_hanging_up_brings_the_agent_back(desk) -> None:
    server, recorder, users = desk
    agents, control = server.desk.agents, server.desk.call_control
    await agents.sign_in(users["bob"], "bob", agent_extension(1))
    await agents.pause("bob", "break")
    await agents.sign_in(users["alice"], "alice", agent_extension(1))
    try:
        linkedid = await _call_to(server, recorder, "alice")
        await agents.resume("bob")
        await control.consult("alice", "agent", "bob")
        await _consult_state(recorder, linkedid, "talking")
        bob_leg = next(
            c.channel
            for c in await server.ami.core_show_channels()
            if c.channel.startswith(agents.require("bob").interface + "-")
            and c.channel.endswith(";2")
        )
        await server.ami.send_action({"Action": "Hangup", "Channel": bob_leg})
        await _consult_state(recorder, linkedid, "hung_up")
        with pytest.raises(CallGone, match="consulted hung up"):
            await control.complete_consult("alice")
        # Alice is with the caller again: hold works on the same call.
        held = await control.hold("alice")
        assert held.legs.linkedid == linkedid
        await control.hang_up("alice")
        (ended,) = await recorder.wait_for(
            CallEnded, lambda n: n.linkedid == linkedid, timeout=WAIT
        )
        assert ended.reason == "completed"
    finally:
        await _sign_out_all(server)


async def test_blind_transfer_to_an_agent_pops_on_their_desk(desk) -> None:
    server, recorder, users = desk
    agents, control = server.desk.agents, server.desk.call_control
    await agents.sign_in(users["bob"], "bob", agent_extension(1))
    await agents.pause("bob", "break")
    await agents.sign_in(users["alice"], "alice", agent_extension(1))
    try:
        linkedid = await _call_to(server, recorder, "alice")
        await agents.resume("bob")
        await control.transfer("alice", "agent", "bob")
        await recorder.wait_for(ScreenPopChanged, _pop_phase("bob", linkedid, "ringing"))
        await recorder.wait_for(ScreenPopChanged, _pop_phase("bob", linkedid, "answered"))
        await recorder.wait_for(
            AgentStateChanged,
            lambda c: c.username == "bob" and c.agent["state"] == "on_call",
        )
        assert server.desk.pops.get("alice", linkedid).phase == "transferred"
        await control.hang_up("bob")
        await recorder.wait_for(CallEnded, lambda n: n.linkedid == linkedid, timeout=WAIT)
        await server.call_log.flush()
        async with server.database.session() as session:
            row = (await session.scalars(select(Call).where(Call.linkedid == linkedid))).one()
        assert row.transfers == 1 and row.end_reason == "completed"
    finally:
        await _sign_out_all(server)


async def test_on_demand_recording_started_paused_resumed_one_file(desk) -> None:
    server, recorder, users = desk
    control = server.desk.call_control
    await server.desk.agents.sign_in(users["alice"], "alice", agent_extension(1))
    try:
        linkedid = await _call_to(server, recorder, "alice", record="on_demand")
        # Armed but silent until the agent starts it (registered once the call row exists).
        state = None
        async with asyncio.timeout(WAIT):
            while state is None:
                state = await control.recording_state("alice")
                await asyncio.sleep(0.1)
        assert state == {"linkedid": linkedid, "policy": "on_demand", "paused": True}
        actor = Actor.user(users["alice"], "alice")
        # Asterisk answers MixMonitorMute with Success (it sends no event for it).
        for paused in (False, True, False):
            await control.set_recording("alice", paused=paused, actor=actor)
        assert (await control.recording_state("alice")) == {
            "linkedid": linkedid,
            "policy": "on_demand",
            "paused": False,
        }
        await control.hang_up("alice")
        await recorder.wait_for(CallEnded, lambda n: n.linkedid == linkedid, timeout=WAIT)
        async with server.database.session() as session:
            rows = (
                await session.scalars(select(Recording).where(Recording.linkedid == linkedid))
            ).all()
        assert len(rows) == 1  # one file per call
        marks = [(m["paused"], m["reason"]) for m in rows[0].pauses]
        assert marks == [(True, "on_demand"), (False, "agent"), (True, "agent"), (False, "agent")]
    finally:
        await _sign_out_all(server)


async def test_three_way_conference_is_one_call_and_pops_the_agent_brought_in(desk) -> None:
    server, recorder, users = desk
    agents, control = server.desk.agents, server.desk.call_control
    await agents.sign_in(users["bob"], "bob", agent_extension(1))
    await agents.pause("bob", "break")
    await agents.sign_in(users["alice"], "alice", agent_extension(1))
    try:
        linkedid = await _call_to(server, recorder, "alice")
        await agents.resume("bob")
        await control.conference("alice", "agent", "bob")
        joined = await recorder.wait_for(
            AmiEvent,
            lambda e: e.name == "ConfbridgeJoin" and e.get("Conference") == linkedid,
            count=3,
            timeout=WAIT,
        )
        bob_interface = agents.require("bob").interface
        assert any(e.channel.startswith(bob_interface) for e in joined)
        # The third party was dialled by the call's own leg: the same Linkedid, one record.
        assert {e.linkedid for e in joined} == {linkedid}
        pop = server.desk.pops.get("alice", linkedid)
        assert pop.consult == {"target": "bob", "state": "conference"}
        # Bob's desk pops the caller, as for a call the queue gave him.
        (answered,) = await recorder.wait_for(
            ScreenPopChanged, _pop_phase("bob", linkedid, "answered"), timeout=WAIT
        )
        assert answered.pop["caller_number"] == "+12125550177"
        await recorder.wait_for(
            AgentStateChanged,
            lambda c: (
                c.username == "bob"
                and c.agent["state"] == "on_call"
                and c.agent["linkedid"] == linkedid
            ),
            timeout=WAIT,
        )
        # Alice leaves; the caller and bob stay in the room.
        await control.hang_up("alice")
        await recorder.wait_for(
            AmiEvent,
            lambda e: (
                e.name == "ConfbridgeLeave"
                and e.get("Conference") == linkedid
                and e.channel.startswith(agents.require("alice").interface)
            ),
            timeout=WAIT,
        )
        assert not recorder.of(CallEnded, lambda n: n.linkedid == linkedid)
        caller = next(
            c.channel for c in await server.ami.core_show_channels() if c.uniqueid == linkedid
        )
        await server.ami.send_action({"Action": "Hangup", "Channel": caller})
        # Bob is still on this call: the call ends with his leg.
        assert not recorder.of(CallEnded, lambda n: n.linkedid == linkedid)
        await control.hang_up("bob")
        await recorder.wait_for(CallEnded, lambda n: n.linkedid == linkedid, timeout=WAIT)
        await server.call_log.flush()
        async with server.database.session() as session:
            row = (await session.scalars(select(Call).where(Call.linkedid == linkedid))).one()
        assert row.end_reason == "completed"
    finally:
        await _sign_out_all(server)


# A queue call not ringing our agent by then went to another test session's agent.
TAKEN_WAIT = 5.0


async def _until(
    recorder: Recorder, kind: type[T], predicate: Callable[[T], bool], what: str, count: int = 1
) -> T:
    """The first ``kind`` item matching ``predicate`` (once ``count`` match); a timeout names
    ``what`` was awaited."""
    try:
        return (await recorder.wait_for(kind, predicate, count=count, timeout=WAIT))[0]
    except TimeoutError:
        raise AssertionError(f"{what}: not within {WAIT} s") from None


def _on(username: str, linkedid: str) -> Callable[[AgentStateChanged], bool]:
    return lambda c: (
        c.username == username and c.agent["state"] == "on_call" and c.agent["linkedid"] == linkedid
    )


async def _call_answered_by(server: Server, recorder: Recorder, username: str) -> str:
    """A queue call answered by ``username``; its Linkedid. The sandbox is shared: another
    test session's agent, free in the same queue, may take it: then another call (three at
    most), the one taken hung up."""
    for _ in range(3):
        linkedid = f"cc-{uuid.uuid4().hex[:16]}"
        await server.ami.originate(
            f"Local/s@{const.CONTEXT_SIM_PATIENT}",
            context=const.CONTEXT_QUEUES,
            exten=await quietest_queue(server),
            caller_id='"Caller" <+12125550179>',
            channel_id=linkedid,
            variables={"SIM_HOLD": "90", "__SIM_AGENT_RING": "1", "__SIM_AGENT_TALK": "90"},
        )
        with contextlib.suppress(TimeoutError):
            await recorder.wait_for(
                ScreenPopChanged, _pop_phase(username, linkedid, "ringing"), timeout=TAKEN_WAIT
            )
            await _until(
                recorder, AgentStateChanged, _on(username, linkedid), f"{username} on the call"
            )
            return linkedid
        for row in await server.ami.core_show_channels():
            if row.get("Linkedid") == linkedid:
                with contextlib.suppress(AmiError):
                    await server.ami.send_action({"Action": "Hangup", "Channel": row.channel})
    raise AssertionError("three calls in a row answered by other test sessions' agents")


async def _bridged_with_caller(server: Server, linkedid: str, interface: str) -> None:
    """Until the phone of ``interface`` is in the bridge of the call's caller."""
    channels: list[AmiEvent] = []
    try:
        async with asyncio.timeout(WAIT):
            while True:
                channels = [
                    c
                    for c in await server.ami.core_show_channels()
                    if c.get("Linkedid") == linkedid
                ]
                callers = [c.get("BridgeId") for c in channels if c.uniqueid == linkedid]
                phones = [
                    c.get("BridgeId")
                    for c in channels
                    if c.channel.startswith(interface + "-") and not c.channel.endswith(";2")
                ]
                if len(callers) == 1 and callers[0] and phones == callers:
                    return
                await asyncio.sleep(0.2)
    except TimeoutError:
        shown = [(c.channel, c.get("BridgeId")) for c in channels]
        raise AssertionError(
            f"{interface} bridged with the caller: not within {WAIT} s: {shown}"
        ) from None


async def _hand_over(server: Server, recorder: Recorder, linkedid: str, by: str, to: str) -> None:
    """``by`` consults ``to`` at the desk and completes: ``to`` talks to the caller."""
    agents, control = server.desk.agents, server.desk.call_control
    await agents.resume(to)
    await control.consult(by, "agent", to)
    await _until(
        recorder,
        ScreenPopChanged,
        lambda c: (
            c.username == by
            and c.pop["linkedid"] == linkedid
            and (c.pop["consult"] or {}).get("state") == "talking"
        ),
        f"{by} talking to {to} (the consultation answered)",
    )
    await control.complete_consult(by)
    answered = await _until(
        recorder, ScreenPopChanged, _pop_phase(to, linkedid, "answered"), f"{to}'s pop"
    )
    assert answered.pop["caller_number"] == "+12125550179"
    await _until(
        recorder, ScreenPopChanged, _pop_phase(by, linkedid, "transferred"), f"{by}'s pop moved"
    )
    await _until(recorder, AgentStateChanged, _on(to, linkedid), f"{to} on the call")
    # The phone and the caller (the channel that made the call) end up in one bridge, once
    # Asterisk has optimised the consultation's Local channel away.
    await _bridged_with_caller(server, linkedid, agents.require(to).interface)


async def test_agent_given_a_transferred_call_transfers_it_on(desk) -> None:
    """Alice blind-transfers a queue call to bob, who consults carol and hands the caller
    over; carol does the same to dave. Each Dial() that reaches an agent outside a queue must
    let them transfer (option t): Asterisk ignores an Atxfer from a leg without it."""
    server, recorder, users = desk
    agents, control = server.desk.agents, server.desk.call_control
    users = {**users, "dave": await agent_user(server, "dave")}
    for name in ("bob", "carol", "dave"):
        await agents.sign_in(users[name], name, agent_extension(1))
        await agents.pause(name, "break")
    await agents.sign_in(users["alice"], "alice", agent_extension(1))
    try:
        linkedid = await _call_answered_by(server, recorder, "alice")
        await agents.resume("bob")
        await control.transfer("alice", "agent", "bob")
        await _until(recorder, AgentStateChanged, _on("bob", linkedid), "bob on the call")
        # Bob was reached by callcenter-transfer's Dial(), carol by callcenter-consult's.
        await _hand_over(server, recorder, linkedid, "bob", "carol")
        await _hand_over(server, recorder, linkedid, "carol", "dave")
        await _until(recorder, AmiEvent, _transferred(linkedid), "2 AttendedTransfer", count=2)

        await control.hang_up("dave")
        await _until(recorder, CallEnded, lambda n: n.linkedid == linkedid, "the call's end")
        await server.call_log.flush()
        async with server.database.session() as session:
            row = (await session.scalars(select(Call).where(Call.linkedid == linkedid))).one()
        assert row.transfers == 3 and row.end_reason == "completed"
    finally:
        await _sign_out_all(server)


def _transferred(linkedid: str) -> Callable[[AmiEvent], bool]:
    return lambda e: (
        e.name == "AttendedTransfer" and e.linkedid == linkedid and e.get("Result") == "Success"
    )


async def _room(server: Server, linkedid: str) -> list[str]:
    """The channels in the call's conference room (named by its Linkedid), as Asterisk has
    them now."""
    response = await server.ami.send_list_action(
        {"Action": "ConfbridgeList", "Conference": linkedid}
    )
    return sorted(e.channel for e in response.events if e.name == "ConfbridgeList")


async def test_nobody_in_a_conference_can_transfer_or_hold_it(desk) -> None:
    """Transfers and hold act on two legs bridged together; in a conference room they cannot
    (Asterisk refuses a blind transfer, drops an Atxfer, a hold would take the caller out of
    the room): the desk refuses them, for the agent who started it and the one brought in,
    as long as the room lives, and sends nothing to Asterisk."""
    server, recorder, users = desk
    agents, control = server.desk.agents, server.desk.call_control
    await agents.sign_in(users["bob"], "bob", agent_extension(1))
    await agents.pause("bob", "break")
    await agents.sign_in(users["alice"], "alice", agent_extension(1))
    try:
        linkedid = await _call_answered_by(server, recorder, "alice")
        await agents.resume("bob")
        await control.conference("alice", "agent", "bob")
        await _until(
            recorder,
            AmiEvent,
            lambda e: e.name == "ConfbridgeJoin" and e.get("Conference") == linkedid,
            "the caller, alice and bob in the room",
            count=3,
        )
        await _until(recorder, AgentStateChanged, _on("bob", linkedid), "bob on the call")
        queue = await quietest_queue(server)
        room = await _room(server, linkedid)
        assert len(room) == 3
        attempts = (
            lambda who: control.consult(who, "number", "+12125550123"),
            lambda who: control.transfer(who, "queue", queue),
            lambda who: control.conference(who, "number", "+12125550123"),
            control.hold,
        )
        for who in ("bob", "alice"):
            for attempt in attempts:
                with pytest.raises(AgentError, match="the call is a conference") as refused:
                    await attempt(who)
                assert refused.value.http_status == 409
        assert await _room(server, linkedid) == room  # nothing changed in Asterisk
        # Bob's desk shows the conference now (his pop came from the transfer that rang him).
        assert server.desk.pops.get("bob", linkedid).consult == {
            "target": "alice",
            "state": "conference",
        }
        # Alice leaves: the caller and bob go on in the room, still a conference.
        alice = agents.require("alice").interface
        await control.hang_up("alice")
        await _until(
            recorder,
            AmiEvent,
            lambda e: (
                e.name == "ConfbridgeLeave"
                and e.get("Conference") == linkedid
                and e.channel.startswith(alice + "-")
            ),
            "alice out of the room",
        )
        for attempt in attempts[:2]:
            with pytest.raises(AgentError, match="the call is a conference"):
                await attempt("bob")
        assert len(await _room(server, linkedid)) == 2
        await control.hang_up("bob")
        for row in await server.ami.core_show_channels():
            if row.get("Linkedid") == linkedid:
                with contextlib.suppress(AmiError):
                    await server.ami.send_action({"Action": "Hangup", "Channel": row.channel})
        await _until(recorder, CallEnded, lambda n: n.linkedid == linkedid, "the call's end")
    finally:
        await _sign_out_all(server)
