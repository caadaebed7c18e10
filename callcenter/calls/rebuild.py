"""Recompute the call log's facts from the stored AMI events (``callcenter reports rebuild``).

Every call's ``calls`` row was folded live from AMI events, and those events are stored
(``call_events``). Feeding them, in the order they were stored, through a new
:class:`~callcenter.calls.state.LiveCall` gives the row again; this module does it for the
calls that started in a period and reports (or, with ``write``, corrects) every fact that
differs. Only what the events decide is compared: an end the tracker inferred without a
``Hangup`` (a reconciliation after a lost link or a restart) is not in the events and is kept.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Text, cast, select, update

from callcenter.ami.events import AmiEvent, Headers
from callcenter.calls.channel_ids import attempt_of
from callcenter.calls.state import FACT_EVENTS, LiveCall, event_time
from hcrm_core.db import Database
from hcrm_core.models import Call, CallEvent

# The facts the reports read, all decided by the events.
FACTS = (
    "direction",
    "queue",
    "queued_at",
    "queue_wait_seconds",
    "abandoned",
    "agent_interface",
    "answered_at",
    "ended_at",
    "hangup_cause",
    "end_reason",
    "transfers",
)
# Datetimes and waits equal within a millisecond (a float round trip through the database).
_TOLERANCE = 0.001
_CHUNK = 2000


@dataclass(frozen=True, slots=True)
class Difference:
    linkedid: str
    field: str
    stored: Any
    rebuilt: Any


@dataclass(slots=True)
class RebuildResult:
    calls: int = 0
    events: int = 0  # the events folded (those that decide facts)
    seconds: float = 0.0
    differences: list[Difference] = field(default_factory=list)
    # Calls whose end is not in their events (closed by a reconciliation): their end is kept.
    ended_without_hangup: int = 0
    written: int = 0

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0


def fold(
    linkedid: str,
    events: Iterable[AmiEvent],
    *,
    inbound_contexts: frozenset[str],
    campaign_prefix: str | None = None,
) -> LiveCall | None:
    """One call's record from its events, as the tracker builds it (None: no events)."""
    call: LiveCall | None = None
    for event in events:
        if call is None:
            call = LiveCall(linkedid=linkedid, started_at=event_time(event))
            attempt = attempt_of(campaign_prefix, linkedid) if campaign_prefix else None
            if attempt is not None:
                call.direction, call.campaign_attempt_id = "outbound", attempt
        call.apply(event, inbound_contexts)
    return call


async def rebuild_calls(
    database: Database,
    start: datetime,
    end: datetime,
    *,
    inbound_contexts: Sequence[str],
    campaign_prefix: str | None = None,
    write: bool = False,
) -> RebuildResult:
    """Rebuild the calls that started in ``[start, end)``; ``write`` corrects the stored
    facts that differ (one transaction per chunk of calls)."""
    result = RebuildResult()
    began = time.perf_counter()
    inbound = frozenset(inbound_contexts)
    async with database.session() as session:
        stored_ids = list(
            await session.scalars(
                select(Call.linkedid)
                .where(Call.started_at >= start, Call.started_at < end)
                .order_by(Call.id)
            )
        )
    for offset in range(0, len(stored_ids), _CHUNK):
        chunk = stored_ids[offset : offset + _CHUNK]
        stored, events = await _load(database, chunk)
        fixes: dict[str, dict[str, Any]] = {}
        for linkedid in chunk:
            call_events = events.get(linkedid, [])
            result.calls += 1
            result.events += len(call_events)
            rebuilt = fold(
                linkedid, call_events, inbound_contexts=inbound, campaign_prefix=campaign_prefix
            )
            if rebuilt is None:
                continue
            row = rebuilt.row()
            if row["ended_at"] is None and stored[linkedid]["ended_at"] is not None:
                result.ended_without_hangup += 1
                row["ended_at"] = stored[linkedid]["ended_at"]
                row["end_reason"] = stored[linkedid]["end_reason"]
            for name in FACTS:
                if not _same(stored[linkedid][name], row[name]):
                    result.differences.append(
                        Difference(linkedid, name, stored[linkedid][name], row[name])
                    )
                    fixes.setdefault(linkedid, {})[name] = row[name]
        if write and fixes:
            await _write(database, fixes)
            result.written += len(fixes)
    result.seconds = time.perf_counter() - began
    return result


async def _load(
    database: Database, linkedids: list[str]
) -> tuple[dict[str, dict[str, Any]], dict[str, list[AmiEvent]]]:
    columns = [getattr(Call, name) for name in FACTS]
    # Core statements on the session's connection (no ORM rows); the headers are read as
    # text and decoded by orjson, the bulk of the work for tens of thousands of events.
    events_query = (
        select(
            CallEvent.linkedid,
            CallEvent.received_at,
            CallEvent.name,
            cast(CallEvent.headers, Text),
        )
        # Only the events that decide facts: caller ID updates, variables, device states and
        # the rest are most of a call's events in real traffic.
        .where(CallEvent.linkedid.in_(linkedids), CallEvent.name.in_(sorted(FACT_EVENTS)))
        .order_by(CallEvent.id)
    )
    async with database.session() as session:
        connection = await session.connection()
        rows = await connection.execute(
            select(Call.linkedid, *columns).where(Call.linkedid.in_(linkedids))
        )
        stored = {r.linkedid: {name: _plain(getattr(r, name)) for name in FACTS} for r in rows}
        found = await connection.execute(events_query)
        events: dict[str, list[AmiEvent]] = {}
        for linkedid, received_at, name, headers in found:
            pairs = list(orjson.loads(headers).items())
            event = AmiEvent(name, Headers(pairs), received_at.timestamp())
            events.setdefault(linkedid, []).append(event)
    return stored, events


async def _write(database: Database, fixes: dict[str, dict[str, Any]]) -> None:
    async with database.transaction() as session:
        for linkedid, values in fixes.items():
            await session.execute(update(Call).where(Call.linkedid == linkedid).values(**values))


def _plain(value: Any) -> Any:
    # The stored enum (direction) compares with the fold's plain string.
    return getattr(value, "value", value)


def _same(stored: Any, rebuilt: Any) -> bool:
    if isinstance(stored, datetime) and isinstance(rebuilt, datetime):
        return abs((stored - rebuilt).total_seconds()) <= _TOLERANCE
    if isinstance(stored, float) and isinstance(rebuilt, float | int):
        return math.isclose(stored, rebuilt, abs_tol=_TOLERANCE)
    return bool(stored == rebuilt)
