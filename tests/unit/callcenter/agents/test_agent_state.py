"""Agent state from queue-member events (recorded real AMI traffic), extensions, dial strings."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace

import pytest

from callcenter.agents.dial import dial_number, hospital_caller_id
from callcenter.agents.errors import InvalidExtension, InvalidNumber
from callcenter.agents.member_events import (
    MemberCall,
    MemberEvent,
    MemberEventKind,
    member_calls,
    parse_member_event,
)
from callcenter.agents.notifier import AgentNotifier
from callcenter.agents.services import AgentService
from callcenter.agents.state import (
    AgentState,
    AgentStatus,
    apply_event,
    end_wrap_up,
    follow_snapshot,
    interface_for,
)
from callcenter.ami.events import AmiEvent, AmiSnapshot, Headers
from callcenter.ami.protocol import parse_stream
from callcenter.ami.queue_members import DeviceStatus
from callcenter.settings import AgentsSettings
from hcrm_core.errors import ValidationFailed
from hcrm_core.models import Role
from hcrm_core.services.agent_sign_ins import AgentSignIns, SignedIn
from tests.support.paths import AMI_FIXTURES
from web_console.sessions import Session
from web_console.ws import WsClient

FIXTURES = AMI_FIXTURES
INTERFACE = "Local/1001@sim-agents"


def _status() -> AgentStatus:
    return AgentStatus(user_id=1, username="alice", extension="1001", interface=INTERFACE)


def _recorded() -> list[MemberEvent]:
    events = parse_stream((FIXTURES / "queue_call_answered.ami").read_bytes())
    timed = [replace(e, received_at=1000.0 + i) for i, e in enumerate(events)]
    return [m for e in timed if (m := parse_member_event(e)) is not None]


def test_a_recorded_queue_call_walks_the_agent_through_its_states() -> None:
    status = _status()
    shown: list[str] = []
    for event in _recorded():
        assert event.interface == INTERFACE
        # A change may be the device state or the queues only: the shown state stays.
        if apply_event(status, event) and (not shown or shown[-1] != status.state.value):
            shown.append(status.state.value)
    assert shown == ["ready", "ringing", "on_call", "wrap_up"]
    assert status.linkedid == "fixture-1238001b"
    assert status.queues == set()  # the recording ends with QueueMemberRemoved
    assert end_wrap_up(status, "fixture-1238001b", now=2000.0)
    assert (status.state, status.since) == (AgentState.READY, 2000.0)


def _event(kind: MemberEventKind, at: float, **values: object) -> MemberEvent:
    return MemberEvent(
        kind=kind,
        queue="appointments",
        interface=INTERFACE,
        member_name="alice",
        linkedid=str(values.pop("linkedid", "")),
        received_at=at,
        **values,  # type: ignore[arg-type]
    )


def test_pause_shows_after_the_call_and_time_in_state_moves_only_on_change() -> None:
    status = _status()
    # Signed in (ready) at 0.0: Asterisk confirming the membership changes no shown state.
    apply_event(status, _event(MemberEventKind.ADDED, 1.0))
    assert (status.state, status.since) == (AgentState.READY, 0.0)
    apply_event(status, _event(MemberEventKind.CALLED, 2.0, linkedid="c1"))
    assert (status.state, status.since) == (AgentState.RINGING, 2.0)
    apply_event(status, _event(MemberEventKind.CONNECT, 3.0, linkedid="c1"))
    # Paused while talking: still on the call for the desk.
    assert apply_event(status, _event(MemberEventKind.PAUSE, 4.0, paused=True, reason="lunch"))
    assert (status.state, status.since) == (AgentState.ON_CALL, 3.0)
    apply_event(status, _event(MemberEventKind.COMPLETE, 5.0, linkedid="c1"))
    assert status.state is AgentState.WRAP_UP
    assert not end_wrap_up(status, "another-call", now=6.0)
    assert end_wrap_up(status, "c1", now=7.0)
    assert (status.state, status.pause_reason, status.since) == (AgentState.PAUSED, "lunch", 7.0)
    assert status.view()["pause_reason"] == "lunch"


def test_ringing_ends_when_the_caller_leaves_or_nobody_answers() -> None:
    status = _status()
    apply_event(status, _event(MemberEventKind.ADDED, 1.0))
    apply_event(status, _event(MemberEventKind.CALLED, 2.0, linkedid="c1"))
    # Another call's ring-no-answer changes nothing.
    assert not apply_event(status, _event(MemberEventKind.RING_NO_ANSWER, 3.0, linkedid="c2"))
    assert apply_event(status, _event(MemberEventKind.RING_NO_ANSWER, 3.0, linkedid="c1"))
    assert status.state is AgentState.READY
    apply_event(status, _event(MemberEventKind.CALLED, 4.0, linkedid="c3"))
    apply_event(status, _event(MemberEventKind.STATUS, 5.0, status=DeviceStatus.NOT_INUSE))
    assert (status.state, status.linkedid) == (AgentState.READY, "")


def test_other_events_and_events_without_an_interface_are_not_member_events() -> None:
    assert parse_member_event(AmiEvent("Hangup", Headers([("Interface", INTERFACE)]))) is None
    assert parse_member_event(AmiEvent("AgentCalled", Headers([("Queue", "q")]))) is None
    pause = parse_member_event(
        AmiEvent(
            "QueueMemberPause",
            Headers([("Interface", INTERFACE), ("Paused", "1"), ("PausedReason", "lunch")]),
        )
    )
    assert pause is not None and (pause.paused, pause.reason) == (True, "lunch")


@pytest.mark.parametrize("bad", ["", "1", "12a4", "1001&PJSIP/evil", "1001,", "123456789", " "])
def test_extensions_are_digits_only(bad: str) -> None:
    with pytest.raises(InvalidExtension):
        interface_for("PJSIP/{extension}", bad)


def test_interface_template_fills_the_extension() -> None:
    assert interface_for("PJSIP/{extension}", " 1001 ") == "PJSIP/1001"
    assert interface_for("Local/{extension}@sim-agents", "2002") == "Local/2002@sim-agents"


@pytest.mark.parametrize(
    ("raw", "dialled"),
    [
        ("(212) 555-0142", "+12125550142"),
        ("+1 212 555 0142", "+12125550142"),
        ("0086 138 0013 8000", "+8613800138000"),
    ],
)
def test_dial_numbers_are_e164_digits(raw: str, dialled: str) -> None:
    assert dial_number(raw, "US") == dialled


@pytest.mark.parametrize(
    "bad", ["", "555", "2125550142&Local/1@x", "212-555-0142,,D(1)", "${SHELL(id)}", "abc"]
)
def test_anything_else_is_refused_before_asterisk(bad: str) -> None:
    with pytest.raises(InvalidNumber):
        dial_number(bad, "US")


def test_click_to_dial_needs_the_hospital_caller_id() -> None:
    assert hospital_caller_id("+12125550100") == "<+12125550100>"
    with pytest.raises(ValidationFailed):
        hospital_caller_id("")
    with pytest.raises(ValidationFailed):
        hospital_caller_id('"Evil" <1>')


async def test_a_full_websocket_outbox_cuts_the_socket_off_instead_of_blocking() -> None:
    session = Session("s", "k", 1, "alice", Role.AGENT, "token", created_at=0.0)
    cut: list[WsClient] = []
    client = WsClient(socket=None, session=session, outbox=asyncio.Queue(maxsize=3))  # type: ignore[arg-type]
    client.on_overflow = cut.append
    for n in range(3):
        client.offer(f"m{n}")
    assert not client.overflowed and cut == []
    client.offer("m3")  # never waits: the socket is cut off instead
    assert client.overflowed and cut == [client]
    client.offer("m4")
    assert cut == [client] and client.outbox.qsize() == 3


@pytest.mark.parametrize(
    "template", ["PJSIP/", "PJSIP/{extension}{extension}", "Local/{extension}@{context}"]
)
def test_the_interface_setting_must_hold_the_extension_exactly_once(template: str) -> None:
    from pydantic import ValidationError

    from callcenter.settings import AgentsSettings

    with pytest.raises(ValidationError, match="extension"):
        AgentsSettings(interface=template)


# -- resync: the agent's call from the bridge's snapshot ------------------------------------

# QueueStatus and CoreShowChannels rows read from the sandbox (headers the desk does not read
# left out): an agent on a queue call (InCall only in the call's queue; the Local pair's ";1"
# half is in the caller's bridge), and another one whose phone rings (InCall 0, no bridge).
ON_CALL_ROWS = (
    "Event: QueueMember\r\nQueue: enquiries\r\nName: alice\r\nLocation: Local/1804@sim-agents\r\n"
    "StateInterface: Local/1804@sim-agents\r\nMembership: dynamic\r\nInCall: 0\r\nStatus: 2\r\n"
    "Paused: 0\r\nPausedReason: \r\n\r\n"
    "Event: QueueMember\r\nQueue: appointments\r\nName: alice\r\n"
    "Location: Local/1804@sim-agents\r\nStateInterface: Local/1804@sim-agents\r\n"
    "Membership: dynamic\r\nInCall: 1\r\nStatus: 2\r\nPaused: 0\r\nPausedReason: \r\n\r\n"
    "Event: CoreShowChannel\r\nChannel: Local/s@sim-patient-0000000e;2\r\nChannelState: 6\r\n"
    "ChannelStateDesc: Up\r\nContext: sim-patient\r\nExten: s\r\n"
    "Uniqueid: sandbox-test-d0964826f7c9;2\r\nLinkedid: sandbox-test-d0964826f7c9\r\n"
    "Application: Wait\r\nDuration: 00:00:03\r\n\r\n"
    "Event: CoreShowChannel\r\nChannel: Local/s@sim-patient-0000000e;1\r\nChannelState: 6\r\n"
    "ChannelStateDesc: Up\r\nContext: callcenter-queues\r\nExten: appointments\r\n"
    "Uniqueid: sandbox-test-d0964826f7c9\r\nLinkedid: sandbox-test-d0964826f7c9\r\n"
    "Application: Queue\r\nDuration: 00:00:03\r\nBridgeId: 76743fbb-3674-4f58-8239-a56708db78b2"
    "\r\n\r\n"
    "Event: CoreShowChannel\r\nChannel: Local/1804@sim-agents-0000000f;2\r\nChannelState: 6\r\n"
    "ChannelStateDesc: Up\r\nContext: sim-agents\r\nExten: 1804\r\nUniqueid: 1795448454.31\r\n"
    "Linkedid: sandbox-test-d0964826f7c9\r\nApplication: Answer\r\nDuration: 00:00:01\r\n\r\n"
    "Event: CoreShowChannel\r\nChannel: Local/1804@sim-agents-0000000f;1\r\nChannelState: 6\r\n"
    "ChannelStateDesc: Up\r\nContext: sim-agents\r\nExten: appointments\r\n"
    "Uniqueid: 1795448454.30\r\nLinkedid: sandbox-test-d0964826f7c9\r\nApplication: AppQueue\r\n"
    "Duration: 00:00:01\r\nBridgeId: 76743fbb-3674-4f58-8239-a56708db78b2\r\n\r\n"
)
RINGING_ROWS = (
    "Event: QueueMember\r\nQueue: enquiries\r\nName: bob\r\nLocation: Local/2976@sim-agents\r\n"
    "StateInterface: Local/2976@sim-agents\r\nMembership: dynamic\r\nInCall: 0\r\nStatus: 2\r\n"
    "Paused: 0\r\nPausedReason: \r\n\r\n"
    "Event: CoreShowChannel\r\nChannel: Local/hangup@sim-patient-00000019;1\r\nChannelState: 6\r\n"
    "ChannelStateDesc: Up\r\nContext: callcenter-queues\r\nExten: enquiries\r\n"
    "Uniqueid: cc-4b521187955c4765\r\nLinkedid: cc-4b521187955c4765\r\nApplication: Queue\r\n"
    "Duration: 00:00:01\r\n\r\n"
    "Event: CoreShowChannel\r\nChannel: Local/2976@sim-agents-0000001a;2\r\nChannelState: 4\r\n"
    "ChannelStateDesc: Ring\r\nContext: sim-agents\r\nExten: 2976\r\nUniqueid: 1795448542.53\r\n"
    "Linkedid: cc-4b521187955c4765\r\nApplication: Wait\r\nDuration: 00:00:01\r\n\r\n"
    "Event: CoreShowChannel\r\nChannel: Local/2976@sim-agents-0000001a;1\r\nChannelState: 5\r\n"
    "ChannelStateDesc: Ringing\r\nContext: sim-agents\r\nExten: enquiries\r\n"
    "Uniqueid: 1795448542.52\r\nLinkedid: cc-4b521187955c4765\r\nApplication: AppQueue\r\n"
    "Duration: 00:00:01\r\n\r\n"
)
ON_CALL_INTERFACE = "Local/1804@sim-agents"
RECORDED_CALL = "sandbox-test-d0964826f7c9"
TAKEN_AT = 5000.0


def _snapshot(*rows: str, taken_at: float = TAKEN_AT) -> AmiSnapshot:
    events = parse_stream("".join(rows).encode())
    return AmiSnapshot(
        channels=tuple(e for e in events if e.name == "CoreShowChannel"),
        queues=tuple(e for e in events if e.name == "QueueMember"),
        taken_at=taken_at,
    )


def _agent(interface: str = ON_CALL_INTERFACE) -> AgentStatus:
    return AgentStatus(
        user_id=1, username="alice", extension="1804", interface=interface, since=100.0
    )


def test_the_snapshot_says_which_member_is_on_which_call() -> None:
    members = member_calls(_snapshot(ON_CALL_ROWS, RINGING_ROWS))
    assert set(members) == {ON_CALL_INTERFACE, "Local/2976@sim-agents"}
    on_call = members[ON_CALL_INTERFACE]
    assert (on_call.in_call, on_call.device, on_call.linkedid) == (
        True,
        DeviceStatus.INUSE,
        RECORDED_CALL,
    )
    assert on_call.since == TAKEN_AT - 1  # the agent's channel was a second old
    ringing = members["Local/2976@sim-agents"]
    # A Local phone is "in use" while it rings: InCall is what tells a call from a ring.
    assert (ringing.in_call, ringing.device, ringing.linkedid) == (
        False,
        DeviceStatus.INUSE,
        "cc-4b521187955c4765",
    )


def test_a_restored_agent_is_on_the_call_and_moves_on_as_usual_when_it_ends() -> None:
    status = _agent()
    member = member_calls(_snapshot(ON_CALL_ROWS))[ON_CALL_INTERFACE]
    assert follow_snapshot(status, member, TAKEN_AT)
    assert (status.state, status.linkedid, status.since) == (
        AgentState.ON_CALL,
        RECORDED_CALL,
        TAKEN_AT - 1,
    )
    assert status.view()["linkedid"] == RECORDED_CALL
    assert status.view()["device"] == "inuse"
    # The same snapshot again (another resync) changes nothing.
    assert not follow_snapshot(status, member, TAKEN_AT + 10)
    apply_event(status, _event(MemberEventKind.COMPLETE, TAKEN_AT + 20, linkedid=RECORDED_CALL))
    assert (status.state, status.linkedid) == (AgentState.WRAP_UP, RECORDED_CALL)
    assert end_wrap_up(status, RECORDED_CALL, now=TAKEN_AT + 30)
    assert status.state is AgentState.READY


def test_a_restored_call_also_ends_with_the_phone_back_to_not_in_use() -> None:
    status = _agent()
    follow_snapshot(status, member_calls(_snapshot(ON_CALL_ROWS))[ON_CALL_INTERFACE], TAKEN_AT)
    hung_up = _event(MemberEventKind.STATUS, TAKEN_AT + 5, status=DeviceStatus.NOT_INUSE)
    assert apply_event(status, replace(hung_up, interface=ON_CALL_INTERFACE))
    assert (status.state, status.linkedid, status.since) == (
        AgentState.WRAP_UP,
        RECORDED_CALL,
        TAKEN_AT + 5,
    )
    # AgentComplete, when it comes after, says the same.
    complete = _event(MemberEventKind.COMPLETE, TAKEN_AT + 6, linkedid=RECORDED_CALL)
    assert not apply_event(status, complete)


def test_a_ringing_phone_is_not_a_call_and_events_newer_than_the_snapshot_win() -> None:
    ringing = member_calls(_snapshot(RINGING_ROWS))["Local/2976@sim-agents"]
    fresh = _agent("Local/2976@sim-agents")
    follow_snapshot(fresh, ringing, TAKEN_AT)
    assert (fresh.state, fresh.linkedid, fresh.since) == (AgentState.READY, "", 100.0)
    # Rung before the snapshot and still ringing in it: left ringing.
    status = _agent("Local/2976@sim-agents")
    apply_event(status, _event(MemberEventKind.CALLED, TAKEN_AT - 1, linkedid=ringing.linkedid))
    follow_snapshot(status, ringing, TAKEN_AT)
    assert (status.state, status.linkedid) == (AgentState.RINGING, ringing.linkedid)
    # AgentComplete arrived while the snapshot was read: the snapshot is older, and ignored.
    status = _agent()
    apply_event(status, _event(MemberEventKind.CONNECT, TAKEN_AT - 5, linkedid=RECORDED_CALL))
    apply_event(status, _event(MemberEventKind.COMPLETE, TAKEN_AT + 1, linkedid=RECORDED_CALL))
    on_call = member_calls(_snapshot(ON_CALL_ROWS))[ON_CALL_INTERFACE]
    assert not follow_snapshot(status, on_call, TAKEN_AT)
    assert status.state is AgentState.WRAP_UP


def test_calls_that_ended_unseen_end_at_the_resync() -> None:
    idle = MemberCall(ON_CALL_INTERFACE, in_call=False, device=DeviceStatus.NOT_INUSE)
    # On a call when the link dropped; gone from Asterisk when it came back: wrap-up is owed.
    status = _agent()
    apply_event(status, _event(MemberEventKind.CONNECT, TAKEN_AT - 60, linkedid="c1"))
    assert follow_snapshot(status, idle, TAKEN_AT)
    assert (status.state, status.linkedid, status.since) == (AgentState.WRAP_UP, "c1", TAKEN_AT)
    # Ringing when the link dropped: over. Not a member any more (Asterisk restarted): same.
    for member in (idle, None):
        status = _agent()
        apply_event(status, _event(MemberEventKind.CALLED, TAKEN_AT - 60, linkedid="c2"))
        assert follow_snapshot(status, member, TAKEN_AT)
        assert (status.state, status.linkedid) == (AgentState.READY, "")


class _Phones:
    """The AMI bridge as the service uses it: every member action succeeds."""

    def __init__(self) -> None:
        self.actions: list[dict[str, object]] = []

    async def send_action(self, headers: dict[str, object]) -> None:
        self.actions.append(headers)


class _Shown(AgentNotifier):
    def __init__(self) -> None:
        self.states: list[tuple[str, str, str | None]] = []

    def state_changed(self, status: AgentStatus) -> None:
        view = status.view()
        self.states.append((status.username, view["state"], view["linkedid"]))


class _Stored(AgentSignIns):
    """alice stored as signed in; ``during`` runs while the database is read."""

    def __init__(self, during: Callable[[], None]) -> None:
        self._during = during

    async def all(self) -> list[SignedIn]:
        self._during()
        await asyncio.sleep(0)
        return [SignedIn(1, "alice", "1804", ON_CALL_INTERFACE, ("appointments", "enquiries"))]


async def test_a_stored_agent_comes_back_on_the_call_and_events_of_the_load_are_kept() -> None:
    shown = _Shown()
    service = AgentService(
        _Phones(),  # type: ignore[arg-type]
        AgentsSettings(interface="Local/{extension}@sim-agents"),
        ("appointments", "enquiries"),
        shown,
        store=_Stored(lambda: None),
    )
    await service.restore_memberships(_snapshot(ON_CALL_ROWS))
    # Announced once, already on the call: never "ready" first.
    assert shown.states == [("alice", "on_call", RECORDED_CALL)]

    # The call ends while the database is read: the AgentComplete is held, then applied.
    shown = _Shown()
    complete = _event(MemberEventKind.COMPLETE, TAKEN_AT + 1, linkedid=RECORDED_CALL)
    held: list[AgentService] = []
    service = AgentService(
        _Phones(),  # type: ignore[arg-type]
        AgentsSettings(interface="Local/{extension}@sim-agents"),
        ("appointments", "enquiries"),
        shown,
        store=_Stored(
            lambda: held[0].on_member_event(replace(complete, interface=ON_CALL_INTERFACE))
        ),
    )
    held.append(service)
    await service.restore_memberships(_snapshot(ON_CALL_ROWS))
    assert shown.states == [
        ("alice", "on_call", RECORDED_CALL),
        ("alice", "wrap_up", RECORDED_CALL),
    ]
    service.wrap_up_done("alice", RECORDED_CALL)  # also cancels the wrap-up timer
    assert shown.states[-1] == ("alice", "ready", None)


# AgentComplete as the sandbox sent it when the caller hung up (Reason: caller): without the
# caller's channel, once with the member's channel (Dest*) and once with no channel at all.
COMPLETE_MEMBER_CHANNEL_ONLY = (
    "Event: AgentComplete\r\nPrivilege: agent,all\r\nTimestamp: 1795449028.912590\r\n"
    "DestChannel: Local/1804@sim-agents-0000004a;1\r\nDestChannelState: 6\r\n"
    "DestChannelStateDesc: Up\r\nDestContext: sim-agents\r\nDestExten: appointments\r\n"
    "DestUniqueid: 1795449027.148\r\nDestLinkedid: sandbox-test-d0964826f7c9\r\n"
    "Queue: appointments\r\nInterface: Local/1804@sim-agents\r\nMemberName: alice\r\n"
    "HoldTime: 1\r\nTalkTime: 0\r\nReason: caller\r\n\r\n"
)
COMPLETE_NO_CHANNEL = (
    "Event: AgentComplete\r\nPrivilege: agent,all\r\nTimestamp: 1795448994.477311\r\n"
    "Queue: appointments\r\nInterface: Local/1804@sim-agents\r\nMemberName: alice\r\n"
    "HoldTime: 1\r\nTalkTime: 1\r\nReason: caller\r\n\r\n"
)


@pytest.mark.parametrize("recorded", [COMPLETE_MEMBER_CHANNEL_ONLY, COMPLETE_NO_CHANNEL])
def test_agent_complete_without_the_callers_channel_still_ends_the_call(recorded: str) -> None:
    (raw,) = parse_stream(recorded.encode())
    complete = parse_member_event(replace(raw, received_at=TAKEN_AT + 2))
    assert complete is not None and complete.kind is MemberEventKind.COMPLETE
    status = _agent()
    apply_event(status, _event(MemberEventKind.CONNECT, TAKEN_AT, linkedid=RECORDED_CALL))
    assert apply_event(status, replace(complete, interface=ON_CALL_INTERFACE))
    assert (status.state, status.linkedid) == (AgentState.WRAP_UP, RECORDED_CALL)
    # Not on a call: such an AgentComplete leaves the agent as they are (and never in a
    # wrap-up without a call to end it).
    idle = _agent()
    assert not apply_event(idle, replace(complete, linkedid=""))
    assert (idle.state, idle.linkedid) == (AgentState.READY, "")
