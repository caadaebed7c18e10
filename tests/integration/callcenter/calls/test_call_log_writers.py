"""Two call log writers on one database, as two server processes each write every call they
see (issue 18): each event is stored once and in stream order, and a call row keeps what
either writer knew.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from callcenter.calls.call_log import CallLogWriter
from callcenter.calls.state import LiveCall
from hcrm_core.models import Call, CallEvent

START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def _event(n: int) -> tuple[str, int, datetime, str, dict[str, str]]:
    at = START + timedelta(milliseconds=n)
    headers = {
        "Event": "Newstate",
        "Linkedid": "call-1",
        "Uniqueid": "call-1",
        # Asterisk's timestampevents: what tells two events of one channel apart.
        "Timestamp": f"{at.timestamp():.6f}",
        "ChannelState": str(n % 7),
    }
    return "call-1", n, at, "Newstate", headers


async def test_each_event_is_stored_once_in_stream_order(database) -> None:
    a, b = CallLogWriter(database), CallLogWriter(database)
    stream = [_event(n) for n in range(1, 301)]
    # a is ahead of b; b (another process, its own seq) writes an overlapping later batch.
    for linkedid, seq, at, name, headers in stream[:200]:
        a.save_event(linkedid, seq, at, name, headers)
    for linkedid, seq, at, name, headers in stream[:250]:
        b.save_event(linkedid, seq + 10_000, at, name, headers)
    await a.flush()
    await b.flush()
    for linkedid, seq, at, name, headers in stream[200:]:
        a.save_event(linkedid, seq, at, name, headers)
    await a.flush()
    async with database.session() as session:
        rows = (await session.scalars(select(CallEvent).order_by(CallEvent.id))).all()
    assert [r.headers["Timestamp"] for r in rows] == [e[4]["Timestamp"] for e in stream]
    # 1-200 from a, 201-250 from b (its numbering), 251-300 from a again.
    assert [r.seq for r in rows][198:202] == [199, 200, 10_201, 10_202]


async def test_events_without_a_timestamp_are_all_kept(database) -> None:
    writer = CallLogWriter(database)
    headers = {"Event": "VarSet", "Linkedid": "call-2", "Variable": "X", "Value": "1"}
    for seq in (1, 2):
        writer.save_event("call-2", seq, START, "VarSet", headers)
    await writer.flush()
    async with database.session() as session:
        rows = await session.scalars(select(CallEvent.seq).where(CallEvent.linkedid == "call-2"))
        assert list(rows) == [1, 2]


async def test_a_call_row_keeps_what_either_writer_knew(database) -> None:
    a, b = CallLogWriter(database), CallLogWriter(database)
    knows_ivr = LiveCall(linkedid="call-3", started_at=START)
    knows_ivr.caller_number = "+12125550111"
    knows_ivr.ivr_entered_at = START + timedelta(seconds=1)
    ended = LiveCall(linkedid="call-3", started_at=START)
    ended.caller_number = "+12125550111"
    ended.ended_at = START + timedelta(seconds=30)
    ended.hangup_cause = 16
    a.save_call(knows_ivr.row())
    await a.flush()
    b.save_call(ended.row())  # b never saw the IVR (its NULL must not erase a's)
    await b.flush()
    async with database.session() as session:
        (call,) = (await session.scalars(select(Call).where(Call.linkedid == "call-3"))).all()
    assert call.ivr_entered_at == START + timedelta(seconds=1)
    assert call.ended_at == START + timedelta(seconds=30)
    assert call.hangup_cause == 16
