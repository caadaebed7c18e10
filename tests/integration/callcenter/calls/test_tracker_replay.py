"""The call tracker fed with real AMI traffic recorded from the sandbox (see tests/fixtures/ami).

Live-Asterisk scenarios are in tests/integration/callcenter/calls/test_tracker_asterisk.py.
"""

from __future__ import annotations

import dataclasses
from dataclasses import replace
from datetime import UTC, datetime

from sqlalchemy import select

from callcenter.ami.events import AmiEvent
from callcenter.ami.protocol import parse_stream
from callcenter.bus import EventBus
from callcenter.calls.call_log import CallLogWriter
from callcenter.calls.state import AgentRinging, CallAnswered, CallEnded, CallQueued, LiveCall
from callcenter.calls.tracker import KEEP_ENDED_SECONDS, CallTracker
from hcrm_core.models import Call, CallEvent
from hcrm_core.services.patients import PatientService
from tests.support.factories import make_patient
from tests.support.paths import AMI_FIXTURES

FIXTURES = AMI_FIXTURES


def _recorded(name: str) -> list[AmiEvent]:
    events = parse_stream((FIXTURES / name).read_bytes())
    # Give the replay a clock: one event every 100 ms from a fixed instant.
    start = datetime(2026, 11, 23, 9, 0, tzinfo=UTC).timestamp()
    return [replace(e, received_at=start + i * 0.1) for i, e in enumerate(events)]


async def _tracker(database, policy, bus):
    writer = CallLogWriter(database)
    tracker = CallTracker(
        bus,
        writer,
        database,
        PatientService(database, policy),
        inbound_contexts=["hospital-inbound"],
    )
    await tracker.start()
    return tracker, writer


async def test_answered_queue_call_is_logged_as_answered_with_patient(database, policy):
    # The recorded caller ID is a Chinese national number: a hospital in China reads it so.
    policy = dataclasses.replace(policy, phone_region="CN")
    patient = await make_patient(database, policy, phones=("+86 138 0013 8000",))
    bus = EventBus()
    notices: list[object] = []

    async def collect(notice: object) -> None:
        notices.append(notice)

    for kind in (CallQueued, AgentRinging, CallAnswered, CallEnded):
        bus.subscribe(kind, collect)
    tracker, writer = await _tracker(database, policy, bus)
    for event in _recorded("queue_call_answered.ami"):
        tracker.process(event)
    await bus.join()
    await tracker.stop()
    await writer.flush()

    async with database.session() as session:
        calls = (await session.scalars(select(Call))).all()
        stored = (await session.scalars(select(CallEvent).order_by(CallEvent.seq))).all()
    assert len(calls) == 1
    call = calls[0]
    assert call.direction.value == "inbound"
    assert (call.caller_number, call.caller_name) == ("13800138000", "王芳")
    assert call.patient_id == patient.id  # caller ID matched across formats
    assert call.queue == "appointments"
    assert call.answered_at is not None and call.abandoned is False
    assert call.agent_interface == "Local/1001@sim-agents"
    assert call.end_reason == "completed"
    assert call.ended_at is not None and call.ended_at >= call.answered_at
    assert [type(n).__name__ for n in notices] == [
        "CallQueued",
        "AgentRinging",
        "CallAnswered",
        "CallEnded",
    ]
    assert {e.name for e in stored} >= {"Newchannel", "AgentConnect", "Hangup"}
    # Headers are stored as JSON text written by the tracker: non-ASCII names survive it.
    assert any(e.headers.get("CallerIDName") == "王芳" for e in stored)

    # The stored events recompute the same record.
    again = LiveCall(linkedid=call.linkedid, started_at=stored[0].received_at)
    for row in stored:
        again.apply(
            AmiEvent(row.name, _headers(row.headers), row.received_at.timestamp()),
            frozenset({"hospital-inbound"}),
        )
    assert again.end_reason == call.end_reason
    assert again.answered_at == call.answered_at
    assert again.agent_interface == call.agent_interface


def _headers(mapping):
    from callcenter.ami.events import Headers

    return Headers.from_mapping(mapping)


async def test_abandon_racing_connect_stays_answered(database, policy):
    """Users of other systems see answered calls counted as abandoned: not here."""
    events = _recorded("queue_call_answered.ami")
    connect = next(i for i, e in enumerate(events) if e.name == "AgentConnect")
    abandon = replace(events[connect], name="QueueCallerAbandon")
    events.insert(connect + 1, abandon)
    tracker, writer = await _tracker(database, policy, EventBus())
    for event in events:
        tracker.process(event)
    await tracker.stop()
    await writer.flush()
    async with database.session() as session:
        call = (await session.scalars(select(Call))).one()
    assert call.abandoned is False and call.end_reason == "completed"


async def test_call_seen_only_from_its_middle_is_still_logged(database, policy):
    """A tracker started mid-call (events before it were missed) still logs the call."""
    events = _recorded("queue_call_answered.ami")
    first_agent = next(i for i, e in enumerate(events) if e.name == "AgentCalled")
    tracker, writer = await _tracker(database, policy, EventBus())
    for event in events[first_agent:]:
        tracker.process(event)
    await tracker.stop()
    await writer.flush()
    async with database.session() as session:
        call = (await session.scalars(select(Call))).one()
    assert call.ended_at is not None
    assert call.answered_at is not None


async def test_an_ended_call_is_kept_for_late_legs_then_forgotten(database, policy, monkeypatch):
    events = _recorded("queue_call_answered.ami")
    clock = [1000.0]
    monkeypatch.setattr("callcenter.calls.tracker.time.monotonic", lambda: clock[0])
    tracker, writer = await _tracker(database, policy, EventBus())
    for event in events:
        tracker.process(event)
    hangup = [e for e in events if e.name == "Hangup"][-1]
    linkedid = hangup.linkedid
    ended = tracker.get(linkedid)
    assert ended is not None and ended.ended
    # A late Hangup of another leg, within the minute: folded into the ended call, no new one.
    late = replace(hangup, headers=_headers({**hangup.headers, "Uniqueid": "late.9"}))
    clock[0] += KEEP_ENDED_SECONDS - 1
    tracker.process(late)
    assert tracker.get(linkedid) is ended
    # After the minute, the next event (of any call) sweeps it out.
    clock[0] += 2
    tracker.process(replace(events[0], headers=_headers({"Event": "FullyBooted"})))
    assert tracker.get(linkedid) is None
    await tracker.stop()
    await writer.flush()
    async with database.session() as session:
        assert len((await session.scalars(select(Call))).all()) == 1
