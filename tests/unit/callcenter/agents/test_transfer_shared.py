"""Transfers followed by every server process: started through one, completed or cancelled
through another.

Two desks stand for two processes, each with its own agents, pops, transfer follower and call
control; what one announces (``DeskChanged``) is applied by the other, and both hear the same
Asterisk events. The events of the consultation may reach a process before the announcement
(the relay goes through the database): they are replayed when it arrives.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

from callcenter.agents.call_control import CallControl
from callcenter.agents.member_events import MemberEvent, MemberEventKind
from callcenter.agents.notifier import DeskChange, DeskChanged
from callcenter.agents.pops import ScreenPops
from callcenter.agents.services import AgentService
from callcenter.agents.transfer_follow import TransferFollower
from callcenter.ami.events import AmiEvent
from callcenter.asterisk import const
from callcenter.calls.state import AgentRinging, CallAnswered
from tests.unit.callcenter.agents.test_desk_shared import _Desk, _NoCalls, _process

ALICE, BOB = "Local/1001@sim-agents", "Local/1002@sim-agents"
CALL = "c1"
ALICE_LEG = f"{ALICE}-00000001;1"
CALLER = "Local/s@sim-patient-00000000;1"
# The consultation's Local channel dials bob's phone (Atxfer into the consult context).
_CONSULT_DIAL = {
    "Channel": "Local/1002@callcenter-consult-00000003;2",
    "Context": const.CONTEXT_CONSULT,
    "DestChannel": f"{BOB}-00000002;1",
}


class _Asterisk:
    """The AMI as call control uses it: the call's channels, and the actions sent."""

    def __init__(self) -> None:
        self.actions: list[str] = []

    async def core_show_channels(self) -> list[AmiEvent]:
        def row(channel: str, uniqueid: str) -> AmiEvent:
            headers = {"Channel": channel, "Linkedid": CALL, "BridgeId": "b1", "Uniqueid": uniqueid}
            return AmiEvent("CoreShowChannel", headers)

        return [row(CALLER, CALL), row(ALICE_LEG, "u2")]

    async def send_action(self, headers: dict[str, object]) -> None:
        self.actions.append(str(headers["Action"]))


@dataclass
class _Process:
    agents: AgentService
    desk: _Desk
    pops: ScreenPops
    follower: TransferFollower
    control: CallControl
    ami: _Asterisk

    async def hear(self, name: str, at: float | None = None, **headers: str) -> None:
        """An AMI event of the call, as Asterisk reports it to every process."""
        event = AmiEvent(name, {"Linkedid": CALL, **headers}, at or time.time())
        await self.follower._on_event(event)

    def consult(self) -> dict[str, str] | None:
        return self.pops.get("alice", CALL).consult


async def _desk(name: str) -> _Process:
    agents, _, desk = _process(name)
    pops = ScreenPops(
        agents=agents,
        calls=_NoCalls(),  # type: ignore[arg-type]
        patients=None,  # type: ignore[arg-type]
        history=None,  # type: ignore[arg-type]
        database=None,  # type: ignore[arg-type]
        notifier=desk,
        timezone=UTC,  # type: ignore[arg-type]
    )
    pops.shows = lambda _username: False  # no card assembly here
    follower = TransferFollower(None, agents, pops)  # type: ignore[arg-type]
    ami = _Asterisk()
    control = CallControl(ami, agents, pops, follower, phone_region="US", notifier=desk)  # type: ignore[arg-type]
    await agents.sign_in(7, "alice", "1001")
    await agents.sign_in(8, "bob", "1002")
    # The queue call, answered by alice: both processes hear it from Asterisk.
    now = datetime.now(UTC)
    pops.on_ringing(AgentRinging(CALL, "appointments", ALICE, "alice", "+1212", None, 1.0, now))
    pops.on_answered(CallAnswered(CALL, "appointments", ALICE, 1.0, now))
    agents.on_member_event(
        MemberEvent(MemberEventKind.CONNECT, "appointments", ALICE, "alice", CALL, time.time())
    )
    desk.changes.clear()
    return _Process(agents, desk, pops, follower, control, ami)


def _relay(source: _Process, *to: _Process) -> list[DeskChanged]:
    """What ``source`` announced, applied by the others (as bus_consume does), then cleared."""
    changes, source.desk.changes = list(source.desk.changes), []
    for change in changes:
        for process in to:
            process.agents.apply_change(change)
            process.pops.apply_change(change)
            process.control.apply_change(change)
    return changes


async def test_a_consultation_started_on_a_is_cancelled_then_completed_through_b() -> None:
    a, b = await _desk("a"), await _desk("b")
    # The queue's own dial to alice, before the consultation: not the consultation's answer.
    await b.hear("DialEnd", time.time() - 5, DestChannel=ALICE_LEG, DialStatus="ANSWER")

    await a.control.consult("alice", "agent", "bob")
    # The consultation rang bob and he answered before the announcement reached B.
    for name, more in (("DialBegin", {}), ("DialEnd", {"DialStatus": "ANSWER"})):
        for process in (a, b):
            await process.hear(name, **_CONSULT_DIAL, **more)
    assert b.consult() is None
    announced = _relay(a, b)
    assert [c.kind for c in announced] == [DeskChange.TRANSFER]
    for change in announced:  # again (a relay catch-up): nothing replayed twice
        b.control.apply_change(change)
    for process in (a, b):
        assert process.consult() == {"target": "bob", "state": "talking"}
    # What each derived from Asterisk's events, it announced to nobody.
    assert a.desk.changes == [] and b.desk.changes == []

    # Cancelled through B: A stops following (the consultation leg's hang-up is no news).
    await b.control.cancel_consult("alice")
    assert b.ami.actions[-1] == "CancelAtxfer"
    _relay(b, a)
    for process in (a, b):
        leg = "Local/1002@callcenter-consult-00000003;1"
        await process.hear("Hangup", Channel=leg, Context=const.CONTEXT_CONSULT)
        assert process.consult() is None
        assert process.follower.get(CALL) is None
    # The next consultation, through either process, lets Asterisk settle first.
    assert a.control._settled_at[CALL] > time.time() + 1
    a.control._settled_at.clear()

    # Consult again through A, complete through B: the call moves to bob on both. B heard
    # the new consultation's dial before the announcement, the old one's hang-up is no news.
    await a.control.consult("alice", "agent", "bob")
    for process in (a, b):
        await process.hear("DialBegin", **_CONSULT_DIAL)
    _relay(a, b)
    assert b.consult() == {"target": "bob", "state": "calling"}
    b.ami.actions.clear()
    a.ami.actions.clear()
    await b.control.complete_consult("alice")
    assert b.ami.actions == ["Hangup"] and a.ami.actions == []
    for process in (a, b):
        await process.hear("AttendedTransfer", OrigTransfererLinkedid=CALL, Result="Success")
        assert process.pops.get("alice", CALL).phase == "transferred"
        assert process.pops.get("bob", CALL).phase == "answered"
        assert process.agents.require("bob").state.value == "on_call"
        assert process.follower.get(CALL) is None
    assert [c.kind for c in b.desk.changes] == []


async def test_a_blind_transfer_started_on_a_pops_the_target_on_b() -> None:
    a, b = await _desk("a"), await _desk("b")
    await a.control.transfer("alice", "agent", "bob")
    target = f"{BOB}-00000002;1"
    await b.hear("DialBegin", DestChannel=target)  # before the announcement
    _relay(a, b)
    assert b.pops.get("bob", CALL).phase == "ringing"
    assert b.pops.get("alice", CALL).phase == "transferred"
    await b.hear("DialEnd", DestChannel=target, DialStatus="ANSWER")
    assert b.pops.get("bob", CALL).phase == "answered"
    assert b.agents.require("bob").state.value == "on_call"
    assert b.follower.get(CALL) is None
