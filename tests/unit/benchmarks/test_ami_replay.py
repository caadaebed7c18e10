"""The AMI pipeline benchmark's replay cuts a recording into the messages the live bridge sees.

Asterisk 22 ends a ``TestEvent`` (``MIXMONITOR_END``..., sent to users with the ``reporting``
class) with an extra CRLF, so the message after it starts with an empty line. The live reader
(``MessageFramer`` + ``BridgeProtocol``) handles it; the replay's former splitter kept only
blocks starting with ``Event: `` and dropped it (a Hangup lost: the call stayed open).
"""

from __future__ import annotations

import asyncio
from typing import Any

from benchmarks.ami_pipeline import recorded_events, replay_stream
from callcenter.ami.events import AmiEvent
from callcenter.ami.protocol import BridgeProtocol, parse_stream
from tests.support.paths import AMI_FIXTURES

BANNER = b"Asterisk Call Manager/11.0.0\r\n"
LOGIN_ANSWER = b"Response: Success\r\nActionID: own-1\r\nMessage: Authentication accepted\r\n\r\n"
# The capturing session's own resync list: its answers completed its action, not published.
OWN_LIST = (
    b"Response: Success\r\nActionID: own-2\r\nEventList: start\r\nMessage: follows\r\n\r\n"
    b"Event: CoreShowChannel\r\nActionID: own-2\r\nChannel: PJSIP/old-1\r\n"
    b"Uniqueid: 1.1\r\nLinkedid: 1.1\r\n\r\n"
    b"Event: CoreShowChannelsComplete\r\nActionID: own-2\r\nEventList: Complete\r\n"
    b"ListItems: 1\r\n\r\n"
)
NEWCHANNEL = (
    b"Event: Newchannel\r\nPrivilege: call,all\r\nChannel: Local/s@sim-patient-0001;2\r\n"
    b"Uniqueid: 1796553491.7\r\nLinkedid: bench-1\r\n\r\n"
)
# Another session's Originate: its ActionID is not the capturing session's, so it is an event.
ORIGINATE_RESPONSE = (
    b"Event: OriginateResponse\r\nPrivilege: call,all\r\nActionID: driver-9\r\n"
    b"Response: Success\r\nChannel: Local/s@sim-patient-0001;1\r\n"
    b"Uniqueid: bench-1\r\nLinkedid: bench-1\r\n\r\n"
)
# As Asterisk 22 writes it: the body's last line, the end of the message, and one CRLF more.
MIXMONITOR_END = (
    b"Event: TestEvent\r\nPrivilege: reporting,all\r\nType: StateChange\r\n"
    b"State: MIXMONITOR_END\r\nAppFile: app_mixmonitor.c\r\n"
    b"File: /var/spool/asterisk/monitor/bench-1-1796553491\r\n\r\n\r\n"
)
HANGUP = (
    b"Event: Hangup\r\nPrivilege: call,all\r\nChannel: Local/s@sim-patient-0001;2\r\n"
    b"Uniqueid: 1796553491.7\r\nLinkedid: bench-1\r\nCause: 16\r\n\r\n"
)
RECORDING = BANNER + LOGIN_ANSWER + OWN_LIST + NEWCHANNEL + ORIGINATE_RESPONSE
RECORDING += MIXMONITOR_END + HANGUP + NEWCHANNEL[:40]  # a partial message at the end


class _Transport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.closed = False

    def write(self, data: Any) -> None:
        pass

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True


async def _live_events(data: bytes) -> list[AmiEvent]:
    """What the live bridge's protocol publishes for ``data`` (no action of its own pending)."""
    events: list[AmiEvent] = []
    protocol = BridgeProtocol(events.append)
    protocol.connection_made(_Transport())
    protocol.data_received(data)
    for _ in range(100):  # the protocol hands the rest of a large read over later loop turns
        await asyncio.sleep(0)
    return events


def _names(blocks: list[str]) -> list[str]:
    return [block.strip().split("\r\n", 1)[0].removeprefix("Event: ") for block in blocks]


def test_the_event_after_a_testevent_extra_crlf_is_kept() -> None:
    blocks = recorded_events(RECORDING)
    assert _names(blocks) == ["Newchannel", "OriginateResponse", "TestEvent", "Hangup"]
    # Cut exactly as the live framer cuts it: the Hangup keeps the TestEvent's extra line.
    assert blocks[3] == "\r\n" + HANGUP.decode().removesuffix("\r\n\r\n")


async def test_the_replay_publishes_the_hangup_through_the_live_protocol() -> None:
    stream, count = replay_stream(recorded_events(RECORDING), 2)
    events = await _live_events(BANNER + stream)
    # Two repetitions with their own call ids, then the benchmark's end mark.
    assert count == 8 and len(events) == count + 1
    hangups = [e for e in events if e.name == "Hangup"]
    assert [e.linkedid for e in hangups] == ["bench-1-r0", "bench-1-r1"]
    assert [e.uniqueid for e in hangups] == ["1796553491.7-r0", "1796553491.7-r1"]


async def test_the_replay_keeps_what_the_live_protocol_publishes() -> None:
    # Without the capturing session's own list, the live protocol and the replay agree.
    data = BANNER + LOGIN_ANSWER + NEWCHANNEL + ORIGINATE_RESPONSE + MIXMONITOR_END + HANGUP
    live = await _live_events(data)
    assert _names(recorded_events(data)) == [e.name for e in live]


async def test_a_mixmonitor_recording_loses_no_event() -> None:
    # Three real sandbox calls recorded with MixMonitor, captured by a user with the production
    # classes plus "reporting" (python -m benchmarks.ami_pipeline --mixmonitor --calls 3).
    data = (AMI_FIXTURES / "mixmonitor_calls.ami").read_bytes()
    assert data.count(b"State: MIXMONITOR_END\r\n") == 3
    assert data.count(b"\r\n\r\n\r\nEvent: ") == 3  # each one followed by an event
    blocks = recorded_events(data)
    names = _names(blocks)
    for name in ("Hangup", "Newchannel", "BridgeLeave", "DeviceStateChange"):
        assert names.count(name) == data.count(f"Event: {name}\r\n".encode()), name
    # The replay frames to the same events, in order, through the live protocol.
    stream, count = replay_stream(blocks, 1)
    live = await _live_events(BANNER + stream)
    assert [e.name for e in live] == [*names, "UserEvent"] and count == len(blocks)
    # Every call's legs are all hung up in the replay.
    legs = {e.uniqueid for e in live if e.name == "Newchannel"}
    assert legs and legs == {e.uniqueid for e in live if e.name == "Hangup"}


def test_parse_stream_agrees_on_the_events_of_a_recording() -> None:
    data = BANNER + NEWCHANNEL + MIXMONITOR_END + HANGUP
    assert _names(recorded_events(data)) == [e.name for e in parse_stream(data)]
