"""The call log writer's bulk statements, on SQLite and PostgreSQL: what goes in comes back.

Rows travel to the database as one JSON parameter per statement and are unpacked there, so
every kind of value is checked on both engines: odd and non-ASCII text, empty strings and
NULLs, timestamps with and without microseconds, booleans, floats, nested IVR context.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from callcenter.calls.call_log import CallLogWriter
from callcenter.calls.state import LiveCall
from hcrm_core.models import Call, CallEvent

ODD = [
    "王芳",
    'Evil "Quote" O\'Brien',
    "back\\slash",
    "${SHELL(id)}",
    "../../x",
    "tab\tand\r\nnewline",
    "emoji 🚑",
    "",
    "x" * 300,
]
START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


async def test_events_come_back_exactly_and_in_order(database) -> None:
    writer = CallLogWriter(database)
    sent = []
    # More than one statement's worth (2,000 rows each), every odd value in some header.
    for seq in range(1, 4502):
        at = START + timedelta(microseconds=0 if seq % 3 == 0 else seq * 1_001)
        headers = {"Event": "Newstate", "Linkedid": f"call-{seq % 7}", "CallerIDName": ODD[seq % 9]}
        writer.save_event(f"call-{seq % 7}", seq, at, "Newstate", headers)
        sent.append((f"call-{seq % 7}", seq, at, "Newstate", headers))
    await writer.flush()
    assert writer.pending == 0
    async with database.session() as session:
        rows = (await session.scalars(select(CallEvent).order_by(CallEvent.id))).all()
    assert [(r.linkedid, r.seq, r.received_at, r.name, r.headers) for r in rows] == sent


async def test_call_rows_are_inserted_then_updated_with_every_kind_of_value(database) -> None:
    writer = CallLogWriter(database)
    calls = []
    for n, name in enumerate(ODD):
        call = LiveCall(linkedid=f"1795425373.{n}", started_at=START + timedelta(seconds=n))
        call.caller_name = name[:200] or None
        call.caller_number = "+8613800138000"
        call.direction = "inbound"
        writer.save_call(call.row())
        calls.append(call)
    await writer.flush()
    for n, call in enumerate(calls):
        call.queue = "appointments"
        call.queued_at = call.started_at + timedelta(microseconds=123_456)
        call.answered_at = call.started_at + timedelta(seconds=20)  # no microseconds
        call.queue_wait_seconds = 19.876543
        call.abandoned = n % 2 == 0
        call.hangup_cause = 16
        call.transfers = 2
        call.ivr_context = {"choices": ["1", "2"], "name": ODD[n], "matches": [3, 4]}
        call.end("completed", call.started_at + timedelta(minutes=3, microseconds=7))
        writer.save_call(call.row())
    await writer.flush()
    async with database.session() as session:
        stored = {c.linkedid: c for c in (await session.scalars(select(Call))).all()}
    assert len(stored) == len(calls)
    for call in calls:
        row = stored[call.linkedid]
        for column, value in call.row().items():
            got = getattr(row, column)
            got = got.value if column == "direction" else got
            assert got == value, (call.linkedid, column)


async def test_a_naive_timestamp_is_refused_at_hand_over_and_nothing_else_is_lost(
    database,
) -> None:
    writer = CallLogWriter(database)
    good = LiveCall(linkedid="1795425373.1", started_at=START)
    writer.save_call(good.row())
    with pytest.raises(ValueError, match="naive"):
        writer.save_call(
            LiveCall(linkedid="1795425373.2", started_at=START.replace(tzinfo=None)).row()
        )
    with pytest.raises(ValueError, match="naive"):
        writer.save_event("1795425373.1", 1, START.replace(tzinfo=None), "Hangup", {})
    await writer.flush()
    async with database.session() as session:
        assert (await session.scalars(select(Call.linkedid))).all() == ["1795425373.1"]


async def test_a_row_the_database_refuses_does_not_hold_back_the_others(database) -> None:
    """A call row pointing at a campaign attempt that does not exist (a channel named like a
    campaign call by someone else) is refused for good: logged, counted, dropped; every other
    call and every event of the batch is written, and the log carries on."""
    writer = CallLogWriter(database, flush_interval=0.05)
    await writer.start()
    try:
        good = [LiveCall(linkedid=f"1795425373.{n}", started_at=START) for n in range(3)]
        bad = LiveCall(linkedid="cc-attempt-999999", started_at=START)
        bad.campaign_attempt_id = 999_999
        for call in (good[0], bad, good[1]):
            writer.save_call(call.row())
            writer.save_event(call.linkedid, 1, START, "Newchannel", {"Event": "Newchannel"})
        async with asyncio.timeout(10):
            while writer.pending:  # noqa: ASYNC110 - waiting for the writer's loop
                await asyncio.sleep(0.05)
        # Later batches go through as usual.
        writer.save_call(good[2].row())
        async with asyncio.timeout(10):
            while writer.pending:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
    finally:
        await writer.stop()
    assert writer.rejected == 1
    async with database.session() as session:
        linkedids = set((await session.scalars(select(Call.linkedid))).all())
        events = (await session.scalars(select(CallEvent.linkedid))).all()
    assert linkedids == {c.linkedid for c in good}
    # The refused call's events are kept: its record can be recomputed from them.
    assert sorted(events) == sorted([good[0].linkedid, bad.linkedid, good[1].linkedid])
