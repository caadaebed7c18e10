"""Agent state from queue-member events (recorded real AMI traffic), extensions, dial strings."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import pytest

from callcenter.agents.dial import dial_number, hospital_caller_id
from callcenter.agents.errors import InvalidExtension, InvalidNumber
from callcenter.agents.member_events import (
    DeviceStatus,
    MemberEvent,
    MemberEventKind,
    parse_member_event,
)
from callcenter.agents.state import (
    AgentState,
    AgentStatus,
    apply_event,
    end_wrap_up,
    interface_for,
)
from callcenter.ami_events import AmiEvent, Headers
from callcenter.ami_protocol import parse_stream
from hcrm_core.errors import ValidationFailed
from hcrm_core.models import Role
from web_console.sessions import Session
from web_console.ws import WsClient

FIXTURES = Path(__file__).parents[3] / "fixtures" / "ami"
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
    session = Session("s", 1, "alice", Role.AGENT, "token", created_at=0.0)
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
