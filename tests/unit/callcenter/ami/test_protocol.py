"""The AMI wire protocol with panoramisk's defects fixed, fed through a fake transport."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from panoramisk.message import Message

from callcenter.ami.errors import AmiNotConnected
from callcenter.ami.protocol import (
    BACKLOG_HIGH,
    BACKLOG_LOW,
    MESSAGES_PER_TURN,
    YIELD_AFTER_BYTES,
    AmiAction,
    BridgeProtocol,
    MessageFramer,
    parse_stream,
)
from tests.support.paths import AMI_FIXTURES

NAME = "张伟医生"
NAME_IN_FIXTURE = "王芳"  # caller names are often Mandarin: 3 bytes per character in UTF-8
BANNER = b"Asterisk Call Manager/9.0.0\r\n"
NEWCHANNEL = (
    "Event: Newchannel\r\nChannel: Local/s@sim-patient-00000001;1\r\n"
    f"CallerIDNum: 13800138000\r\nCallerIDName: {NAME}\r\n"
    "Uniqueid: 1700000000.1\r\nLinkedid: 1700000000.1\r\n\r\n"
).encode()


class FakeTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.written = bytearray()
        self.closed = False
        self.aborted = False
        self.reading = True
        self.pauses = 0

    def pause_reading(self) -> None:
        self.reading = False
        self.pauses += 1

    def resume_reading(self) -> None:
        self.reading = True

    def write(self, data: Any) -> None:
        self.written += data

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True

    def is_closing(self) -> bool:
        return self.closed or self.aborted


def make_protocol() -> tuple[BridgeProtocol, FakeTransport, list[Message]]:
    events: list[Message] = []
    protocol = BridgeProtocol(events.append)
    transport = FakeTransport()
    protocol.connection_made(transport)
    return protocol, transport, events


def sent_action_id(transport: FakeTransport) -> str:
    for line in transport.written.decode().split("\r\n"):
        if line.startswith("ActionID: "):
            return line.removeprefix("ActionID: ")
    raise AssertionError("no ActionID written")


async def test_utf8_character_split_across_reads_is_kept() -> None:
    protocol, _, events = make_protocol()
    stream = BANNER + NEWCHANNEL
    cut = stream.index(NAME.encode()) + 4  # inside the second character
    protocol.data_received(stream[:cut])
    assert events == []
    protocol.data_received(stream[cut:])
    assert len(events) == 1
    assert events[0]["CallerIDName"] == NAME
    assert protocol.banner_version == "9.0.0"


async def test_stream_fed_one_byte_at_a_time() -> None:
    protocol, _, events = make_protocol()
    for i, byte in enumerate(BANNER + NEWCHANNEL * 2):
        protocol.data_received(bytes([byte]))
        assert len(events) <= 2, i
    assert [e["CallerIDName"] for e in events] == [NAME, NAME]


async def test_play_dtmf_successfully_queued_completes_without_async_header() -> None:
    # panoramisk 1.4 raises KeyError('async') here and asyncio drops the connection.
    protocol, transport, _ = make_protocol()
    protocol.data_received(BANNER)
    future = protocol.send(AmiAction({"Action": "PlayDTMF", "Channel": "Local/x;2", "Digit": "1"}))
    action_id = sent_action_id(transport)
    protocol.data_received(
        f"Response: Success\r\nActionID: {action_id}\r\n"
        "Message: DTMF successfully queued\r\n\r\n".encode()
    )
    async with asyncio.timeout(1):
        messages = await future
    assert messages[0]["Message"] == "DTMF successfully queued"
    assert not transport.aborted and not transport.closed
    assert protocol.responses == {}


async def test_plain_dict_actions_are_safe_too() -> None:
    protocol, transport, _ = make_protocol()
    future = protocol.send({"Action": "PlayDTMF", "Channel": "Local/x;2", "Digit": "1"})
    protocol.data_received(
        BANNER
        + f"Response: Success\r\nActionID: {sent_action_id(transport)}\r\n"
        "Message: DTMF successfully queued\r\n\r\n".encode()
    )
    async with asyncio.timeout(1):
        assert (await future)[0]["Response"] == "Success"


async def test_async_originate_completes_on_queued_and_response_event_is_dispatched() -> None:
    protocol, transport, events = make_protocol()
    action = AmiAction({"Action": "Originate", "Channel": "Local/s@sim", "Async": "true"})
    future = protocol.send(action)
    aid = sent_action_id(transport)
    protocol.data_received(
        BANNER
        + f"Response: Success\r\nActionID: {aid}\r\nMessage: Originate successfully queued\r\n\r\n"
        f"Event: OriginateResponse\r\nActionID: {aid}\r\nResponse: Success\r\n"
        "Uniqueid: attempt-1\r\n\r\n".encode()
    )
    async with asyncio.timeout(1):
        assert len(await future) == 1
    assert [e["Event"] for e in events] == ["OriginateResponse"]


async def test_list_action_collects_until_complete_and_error_ends_it() -> None:
    protocol, transport, _ = make_protocol()
    protocol.data_received(BANNER)
    future = protocol.send(AmiAction({"Action": "CoreShowChannels"}, expects_list=True))
    aid = sent_action_id(transport)
    protocol.data_received(
        f"Response: Success\r\nActionID: {aid}\r\nEventList: start\r\n"
        "Message: Channels will follow\r\n\r\n"
        f"Event: CoreShowChannel\r\nActionID: {aid}\r\nChannel: Local/a;1\r\n\r\n".encode()
    )
    assert not future.done()
    protocol.data_received(
        f"Event: CoreShowChannelsComplete\r\nActionID: {aid}\r\nEventList: Complete\r\n"
        "ListItems: 1\r\n\r\n".encode()
    )
    async with asyncio.timeout(1):
        messages = await future
    assert [m.get("Event") for m in messages] == [
        None,
        "CoreShowChannel",
        "CoreShowChannelsComplete",
    ]

    transport.written.clear()
    failing = protocol.send(AmiAction({"Action": "QueueStatus"}, expects_list=True))
    protocol.data_received(
        f"Response: Error\r\nActionID: {sent_action_id(transport)}\r\n"
        "Message: Invalid/unknown command\r\n\r\n".encode()
    )
    async with asyncio.timeout(1):
        assert (await failing)[0]["Response"] == "Error"


async def test_connection_lost_fails_pending_actions() -> None:
    protocol, _, _ = make_protocol()
    future = protocol.send(AmiAction({"Action": "Ping"}))
    protocol.connection_lost(None)
    with pytest.raises(AmiNotConnected):
        await future
    assert protocol.closed_future.done()
    with pytest.raises(AmiNotConnected):
        protocol.send(AmiAction({"Action": "Ping"}))


def test_line_breaks_in_header_values_are_refused() -> None:
    with pytest.raises(ValueError, match="line break"):
        AmiAction({"Action": "Originate", "CallerID": "x\r\nAction: Hangup"})


async def test_action_repr_hides_the_secret() -> None:
    # Actions are made on the running loop (panoramisk asks for it), as in the server.
    action = AmiAction({"Action": "Login", "Username": "u", "Secret": "hunter2"})
    assert "hunter2" not in repr(action)


def test_parse_stream_of_recorded_bytes() -> None:
    events = parse_stream(BANNER + NEWCHANNEL + b"Event: Hangup\r\nLinkedid: 1700000000.1\r\n\r\n")
    assert [e.name for e in events] == ["Newchannel", "Hangup"]
    assert events[0].caller_id_name == NAME
    assert events[0].linkedid == events[1].linkedid == "1700000000.1"


def test_framer_without_banner() -> None:
    framer = MessageFramer()
    assert [m["Event"] for m in framer.feed(b"Event: FullyBooted\r\n\r\n")] == ["FullyBooted"]


def test_recorded_queue_call_fixture() -> None:
    """Real Asterisk 22 traffic (tests/fixtures/ami/queue_call_answered.ami, see its test)."""
    data = (AMI_FIXTURES / "queue_call_answered.ami").read_bytes()
    events = parse_stream(data)
    names = [e.name for e in events]
    for expected in ("QueueCallerJoin", "AgentCalled", "AgentConnect", "AgentComplete"):
        assert expected in names
    calls = {e.linkedid for e in events if e.name in ("Newchannel", "Hangup", "AgentConnect")}
    assert len(calls) == 1  # caller, agent and both Local halves share one Linkedid
    assert NAME_IN_FIXTURE in {e.caller_id_name for e in events if e.name == "NewCallerid"}


async def test_small_reads_do_not_pause_reading() -> None:
    protocol, transport, events = make_protocol()
    protocol.data_received(BANNER + NEWCHANNEL)
    await asyncio.sleep(0)
    assert len(events) == 1
    assert transport.pauses == 0 and transport.reading


async def test_large_read_hands_the_loop_back_before_reading_on() -> None:
    # uvloop would otherwise call data_received up to 32 times in one loop iteration.
    protocol, transport, events = make_protocol()
    burst = NEWCHANNEL * (YIELD_AFTER_BYTES // len(NEWCHANNEL) + 1)
    protocol.data_received(BANNER + burst)
    assert len(events) == burst.count(b"Event: ")
    assert transport.pauses == 1 and not transport.reading
    await asyncio.sleep(0)
    assert transport.reading


async def test_reading_waits_for_the_tracker_backlog_to_drain() -> None:
    backlog = BACKLOG_HIGH + 1
    events: list[Message] = []
    protocol = BridgeProtocol(events.append, backlog=lambda: backlog)
    transport = FakeTransport()
    protocol.connection_made(transport)
    protocol.data_received(BANNER + NEWCHANNEL)  # small read, but the consumer is behind
    assert len(events) == 1 and not transport.reading
    await asyncio.sleep(0.02)
    assert not transport.reading  # still above the low mark
    backlog = BACKLOG_LOW
    await asyncio.sleep(0.02)  # the reader polls the backlog every couple of milliseconds
    assert transport.reading


async def test_no_resume_after_the_connection_closed() -> None:
    protocol, transport, _ = make_protocol()
    protocol.data_received(BANNER + NEWCHANNEL * (YIELD_AFTER_BYTES // len(NEWCHANNEL) + 1))
    protocol.close()
    await asyncio.sleep(0)
    assert not transport.reading


async def test_a_big_read_is_handled_a_slice_per_turn_in_order() -> None:
    protocol, transport, events = make_protocol()
    count = MESSAGES_PER_TURN * 2 + 7
    burst = b"".join(NEWCHANNEL.replace(b"1700000000.1", f"17.{n}".encode()) for n in range(count))
    protocol.data_received(BANNER + burst)
    assert len(events) == MESSAGES_PER_TURN and not transport.reading
    await asyncio.sleep(0)  # one loop iteration: one more slice
    assert len(events) == MESSAGES_PER_TURN * 2
    await asyncio.sleep(0)
    assert [event.uniqueid for event in events] == [f"17.{n}" for n in range(count)]
    await asyncio.sleep(0)
    assert transport.reading


async def test_message_after_a_test_events_extra_crlf_is_parsed_like_any_other() -> None:
    """Asterisk 22 ends ``TestEvent: MIXMONITOR_END`` with an extra CRLF; the next event must
    come out exactly as it does without it (the typed path, headers as sent)."""
    test_event = (
        b"Event: TestEvent\r\nType: StateChange\r\nState: MIXMONITOR_END\r\n"
        b"File: /var/spool/asterisk/monitor/1.wav\r\n\r\n\r\n"
    )
    hangup = b"Event: Hangup\r\nChannel: Local/s@x;1\r\nCause-txt: Normal Clearing \r\n\r\n"
    protocol, _, events = make_protocol()
    protocol.data_received(BANNER + test_event + hangup)
    alone, _, alone_events = make_protocol()
    alone.data_received(BANNER + hangup)
    assert [event.name for event in events] == ["TestEvent", "Hangup"]  # type: ignore[attr-defined]
    after = dict(events[1].headers.items())  # type: ignore[attr-defined]
    assert after == dict(alone_events[0].headers.items())  # type: ignore[attr-defined]
