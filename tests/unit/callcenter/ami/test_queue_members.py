"""Queue members parsed at the edge: recorded Asterisk 22 traffic, one rule for yes/no headers."""

from __future__ import annotations

import pytest

from callcenter.ami.events import AmiEvent, Headers
from callcenter.ami.protocol import parse_stream
from callcenter.ami.queue_members import DeviceStatus, QueueMember, flag, queue_member_of
from tests.support.paths import AMI_FIXTURES

INTERFACE = "Local/1001@sim-agents"


def _recorded(name: str) -> list[AmiEvent]:
    events = parse_stream((AMI_FIXTURES / "queue_call_answered.ami").read_bytes())
    return [e for e in events if e.name == name]


def test_a_live_member_event_and_a_queue_status_row_read_the_same() -> None:
    (added,) = _recorded("QueueMemberAdded")
    (row,) = _recorded("QueueMember")
    expected = QueueMember(
        queue="appointments",
        interface=INTERFACE,
        name=INTERFACE,
        status=DeviceStatus.NOT_INUSE,
        paused=False,
        paused_reason="",
        in_call=False,
    )
    assert queue_member_of(added) == expected
    assert queue_member_of(row) == expected  # Location/Name instead of Interface/MemberName


@pytest.mark.parametrize(
    ("value", "meaning"), [("1", True), ("0", False), ("", None), ("true", None), ("2", None)]
)
def test_asterisk_22_yes_no_headers_are_0_or_1(value: str, meaning: bool | None) -> None:
    assert flag(value) is meaning


def test_a_pause_with_its_reason_and_the_call_timings() -> None:
    event = AmiEvent(
        "QueueMemberPause",
        Headers(
            [
                ("Queue", "appointments"),
                ("Interface", INTERFACE),
                ("MemberName", "Alice"),
                ("Status", "2"),
                ("Paused", "1"),
                ("PausedReason", "lunch"),
                ("InCall", "1"),
                ("LastCall", "1795425373"),
                ("Wrapuptime", "5"),
            ]
        ),
    )
    member = queue_member_of(event)
    assert (member.name, member.status, member.paused, member.paused_reason) == (
        "Alice",
        DeviceStatus.INUSE,
        True,
        "lunch",
    )
    assert (member.in_call, member.last_call, member.wrapup) == (True, 1795425373.0, 5.0)


def test_headers_not_sent_are_unknown() -> None:
    member = queue_member_of(AmiEvent("AgentCalled", Headers([("Interface", INTERFACE)])))
    assert (member.status, member.paused, member.in_call) == (None, None, None)
    assert (member.last_call, member.wrapup, member.name) == (0.0, 0.0, "")
