"""Recompute the call log's facts from the stored AMI events (``callcenter reports rebuild``).

Every call's ``calls`` row was folded live from AMI events, and those events are stored
(``call_events``). Feeding them, in the order they were stored, through a new
:class:`~callcenter.calls.state.LiveCall` gives the row again; this module does it for the
calls that started in a period and reports (or, with ``write``, corrects) every fact that
differs. Only what the events decide is compared: an end the tracker inferred without a
``Hangup`` (a reconciliation after a lost link or a restart) is not in the events and is kept.
Whether the caller was in the IVR is not an AMI event (our FastAGI reports it): the stored
``ivr_entered_at`` is folded in as the tracker did, so a hang-up in the menus ends the same way.
"""

from __future__ import annotations

import gc
import math
import operator
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Text, and_, cast, func, select, update

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
_CHUNK = 5000


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
    ivr_entered_at: datetime | None = None,
) -> LiveCall | None:
    """One call's record from its events, as the tracker builds it (None: no events);
    ``ivr_entered_at``: when the caller reached the IVR, if they did."""
    call: LiveCall | None = None
    for event in events:
        if call is None:
            call = LiveCall(linkedid=linkedid, started_at=event_time(event))
            attempt = attempt_of(campaign_prefix, linkedid) if campaign_prefix else None
            if attempt is not None:
                call.direction, call.campaign_attempt_id = "outbound", attempt
            call.apply(event, inbound_contexts)
            if ivr_entered_at is not None:
                # As apply_ivr: the IVR answers the call after its first channel was made.
                call.ivr_entered_at = ivr_entered_at
                if call.direction == "internal":
                    call.direction = "inbound"
            continue
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
    after = 0  # the last call id read: chunks follow the primary key, no list of ids is sent
    with _collector_paused():
        while True:
            stored, rows = await _read_chunk(database, start, end, after)
            if not stored:
                break
            after = stored[-1][0]
            fixes = _rebuild_chunk(
                stored,
                _decode(rows, database.dialect == "postgresql"),
                inbound,
                campaign_prefix,
                result,
            )
            if write and fixes:
                await _write(database, fixes)
                result.written += len(fixes)
    result.seconds = time.perf_counter() - began
    return result


def _rebuild_chunk(
    stored: list[Any],
    events: dict[str, list[AmiEvent]],
    inbound: frozenset[str],
    campaign_prefix: str | None,
    result: RebuildResult,
) -> dict[str, dict[str, Any]]:
    """Fold each call of a chunk again and compare; the facts to correct, by Linkedid."""
    fixes: dict[str, dict[str, Any]] = {}
    for _, linkedid, ivr_entered_at, *facts in stored:
        call_events = events.get(linkedid, [])
        result.calls += 1
        result.events += len(call_events)
        rebuilt = fold(
            linkedid,
            call_events,
            inbound_contexts=inbound,
            campaign_prefix=campaign_prefix,
            ivr_entered_at=ivr_entered_at,
        )
        if rebuilt is not None:
            _compare(linkedid, tuple(facts), rebuilt, result, fixes)
    return fixes


@contextmanager
def _collector_paused() -> Iterator[None]:
    """No cyclic garbage collection during the rebuild, a batch run (``callcenter reports
    rebuild`` has nothing else on its event loop). Each chunk makes some 100,000 short-lived
    objects (rows, events, headers, calls), all freed by reference counting, no cycles; the
    collections they triggered took half the rebuild's CPU time (measured)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


_facts_of = operator.attrgetter(*FACTS)
_ENDED, _END_REASON = FACTS.index("ended_at"), FACTS.index("end_reason")


def _compare(
    linkedid: str,
    stored: tuple[Any, ...],
    rebuilt: LiveCall,
    result: RebuildResult,
    fixes: dict[str, dict[str, Any]],
) -> None:
    facts = list(_facts_of(rebuilt))
    if facts[_ENDED] is None and stored[_ENDED] is not None:
        result.ended_without_hangup += 1
        facts[_ENDED], facts[_END_REASON] = stored[_ENDED], stored[_END_REASON]
    if tuple(facts) == stored:
        return  # nearly every call: one comparison, not one per fact
    for name, before, after in zip(FACTS, stored, facts, strict=True):
        if not _same(before, after):
            result.differences.append(Difference(linkedid, name, _plain(before), after))
            fixes.setdefault(linkedid, {})[name] = after


async def _read_chunk(
    database: Database, start: datetime, end: datetime, after: int
) -> tuple[list[Any], list[Any]]:
    """The next calls of the period after call id ``after`` (their id, Linkedid and stored
    facts) and the events that decide their facts, in the order they were stored."""
    in_period = and_(Call.started_at >= start, Call.started_at < end, Call.id > after)
    calls = (
        select(
            Call.id, Call.linkedid, Call.ivr_entered_at, *(getattr(Call, name) for name in FACTS)
        )
        .where(in_period)
        .order_by(Call.id)
        .limit(_CHUNK)
    )
    received_at: Any = CallEvent.received_at
    if database.dialect == "postgresql":
        # The epoch seconds an AmiEvent holds (double precision keeps the microseconds): no
        # datetime built per event.
        received_at = func.date_part("epoch", CallEvent.received_at)
    async with database.session() as session:
        connection = await session.connection()
        stored = list((await connection.execute(calls)).all())
        if not stored:
            return [], []
        events = (
            # Core rows, headers as text for orjson.
            select(CallEvent.linkedid, received_at, CallEvent.name, cast(CallEvent.headers, Text))
            .join(Call, Call.linkedid == CallEvent.linkedid)
            # Only the events that decide facts: caller ID updates, variables, device states
            # and the rest are most of a call's events in real traffic.
            .where(in_period, Call.id <= stored[-1][0], CallEvent.name.in_(_FACT_NAMES))
            .order_by(CallEvent.id)
        )
        rows = list((await connection.execute(events)).all())
    return stored, rows


_FACT_NAMES = sorted(FACT_EVENTS)
_FACT_COLUMNS = [getattr(Call, name) for name in FACTS]


def _decode(rows: list[Any], epoch_seconds: bool) -> dict[str, list[AmiEvent]]:
    events: dict[str, list[AmiEvent]] = {}
    loads = orjson.loads
    for linkedid, at, name, headers in rows:
        event = AmiEvent(
            name, Headers(list(loads(headers).items())), at if epoch_seconds else at.timestamp()
        )
        found = events.get(linkedid)
        if found is None:
            events[linkedid] = [event]
        else:
            found.append(event)
    return events


async def _write(database: Database, fixes: dict[str, dict[str, Any]]) -> None:
    async with database.transaction() as session:
        for linkedid, values in fixes.items():
            await session.execute(update(Call).where(Call.linkedid == linkedid).values(**values))


def _plain(value: Any) -> Any:
    # The stored enum (direction) is reported as the fold's plain string.
    return getattr(value, "value", value)


def _same(stored: Any, rebuilt: Any) -> bool:
    if isinstance(stored, datetime) and isinstance(rebuilt, datetime):
        return abs((stored - rebuilt).total_seconds()) <= _TOLERANCE
    if isinstance(stored, float) and isinstance(rebuilt, float | int):
        return math.isclose(stored, rebuilt, abs_tol=_TOLERANCE)
    return bool(stored == rebuilt)
