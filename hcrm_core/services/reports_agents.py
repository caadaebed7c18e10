"""Agent figures over a period: time signed in, ready, paused by reason, ringing, on call, in
wrap-up, and the calls each handled with their handle time.

Times come from the agent state history (``agent_state_changes``): each state lasts from its
change to the agent's next one (the last one until the period's end, or now). Calls come from
the call log: a call is the agent's when the agent saved it (``agent_user_id``) or, before
that, when it was answered on the agent's extension.
"""

from __future__ import annotations

import asyncio
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, func, select

from hcrm_core.db import Database
from hcrm_core.errors import ValidationFailed
from hcrm_core.models import Call, Role, User
from hcrm_core.models.agent_history import AGENT_STATES
from hcrm_core.services.agent_history import StateChange, changes_in
from hcrm_core.services.reports_period import Bucket, Period
from hcrm_core.services.reports_queues import (
    bucket_key,
    bucket_of_step,
    handle_seconds,
    report_reads,
    steps_are_buckets,
)

TIMED_STATES = tuple(s for s in AGENT_STATES if s != "signed_out")
_NO_TIME = dict.fromkeys(TIMED_STATES, 0.0)


@dataclass(slots=True)
class AgentFigures:
    seconds: dict[str, float] = field(default_factory=_NO_TIME.copy)
    paused_by_reason: dict[str, float] = field(default_factory=dict)
    calls_handled: int = 0
    handle_total: float = 0.0

    @property
    def signed_in(self) -> float:
        return sum(self.seconds.values())

    @property
    def average_handle(self) -> float | None:
        return self.handle_total / self.calls_handled if self.calls_handled else None

    def add_time(self, state: str, reason: str, seconds: float) -> None:
        if state not in self.seconds:
            return
        self.seconds[state] += seconds
        if state == "paused":
            key = reason or "no reason"
            self.paused_by_reason[key] = self.paused_by_reason.get(key, 0.0) + seconds

    def as_dict(self) -> dict[str, object]:
        return {
            "signed_in_seconds": round(self.signed_in, 1),
            **{f"{s}_seconds": round(v, 1) for s, v in self.seconds.items()},
            "paused_by_reason_seconds": {
                k: round(v, 1) for k, v in sorted(self.paused_by_reason.items())
            },
            "calls_handled": self.calls_handled,
            "handle_time_total_seconds": round(self.handle_total, 1),
            "handle_time_average_seconds": (
                None if self.average_handle is None else round(self.average_handle, 1)
            ),
        }


# What a bucket without time or calls holds, shared: a month by quarter hour is 2,976
# buckets per agent, most of them outside the agent's shifts. Read-only by contract.
NOTHING = AgentFigures()


@dataclass(slots=True)
class AgentLine:
    user_id: int
    username: str
    display_name: str
    # Empty buckets are :data:`NOTHING`; :meth:`figures` gives a bucket its own to add to.
    buckets: list[AgentFigures]
    total: AgentFigures = field(default_factory=AgentFigures)

    def figures(self, index: int) -> AgentFigures:
        figures = self.buckets[index]
        if figures is NOTHING:
            figures = self.buckets[index] = AgentFigures()
        return figures


@dataclass(frozen=True, slots=True)
class AgentReport:
    period: Period
    buckets: list[Bucket]
    agents: list[AgentLine]


@dataclass(frozen=True, slots=True)
class _Agent:
    id: int
    username: str
    display_name: str
    extension: str | None


async def _agents(database: Database) -> dict[str, _Agent]:
    async with database.session() as session:
        users = await session.scalars(select(User))
        return {
            u.username: _Agent(u.id, u.username, u.display_name, u.extension)
            for u in users
            if u.role is Role.AGENT or u.extension
        }


async def agent_report(
    database: Database,
    period: Period,
    *,
    agents: Sequence[str] | None = None,
    now: datetime | None = None,
) -> AgentReport:
    """Figures per agent (username) and bucket; an unknown agent is refused (field ``agent``).

    Without ``agents``: every agent (users with the agent role or an extension)."""
    known = await _agents(database)
    for name in agents or ():
        if name not in known:
            raise ValidationFailed("agent", f"no agent named {name!r}")
    chosen = [known[n] for n in sorted(agents or known)]
    buckets = period.buckets()
    lines = {
        a.id: AgentLine(a.id, a.username, a.display_name, [NOTHING] * len(buckets)) for a in chosen
    }
    until = min(period.end, now or datetime.now(UTC)).timestamp()
    # Two connections: the database sums the calls while the state changes are read and cut.
    changes, (call_rows, index_of) = await asyncio.gather(
        changes_in(database, period.start, period.end, list(lines)),
        _call_sums(database, period, buckets),
    )
    by_agent: dict[int, list[StateChange]] = defaultdict(list)
    for change in changes:
        by_agent[change.user_id].append(change)
    edges = [b.start.timestamp() for b in buckets] + [period.end.timestamp()]
    for user_id, rows in by_agent.items():
        _add_times(lines[user_id], rows, edges, period.start.timestamp(), until)
    _add_calls(call_rows, index_of, chosen, lines)
    return AgentReport(period, buckets, list(lines.values()))


def _add_times(
    line: AgentLine,
    rows: list[StateChange],
    edges: list[float],
    start: float,
    until: float,
) -> None:
    """Each stretch between consecutive changes, cut at the buckets' edges (``edges``: every
    bucket's start, then the last one's end, as epoch seconds)."""
    last = len(edges) - 1
    for change, following in zip(rows, [*rows[1:], None], strict=True):
        begin = max(change.at.timestamp(), start)
        end = min(following.at.timestamp() if following is not None else until, until)
        state, reason = change.state, change.pause_reason
        if end <= begin or state not in _NO_TIME:
            continue  # an empty stretch, or signed out: nothing to add
        line.total.add_time(state, reason, end - begin)
        index = bisect_right(edges, begin) - 1
        while index < last and edges[index] < end:
            seconds = min(end, edges[index + 1]) - max(begin, edges[index])
            line.figures(index).add_time(state, reason, seconds)
            index += 1


def extension_of(interface: str) -> str:
    """``PJSIP/1001`` or ``Local/1001@ctx`` -> ``1001``."""
    tail = interface.split("/", 1)[-1]
    return tail.split("@", 1)[0].split(";", 1)[0]


async def _call_sums(
    database: Database, period: Period, buckets: list[Bucket]
) -> tuple[list[Any], Callable[[Any], int | None]]:
    """Calls handled and their handle time, summed by the database per agent (user and
    interface) and bucket (see :func:`~hcrm_core.services.reports_queues.bucket_key`), and the
    function that gives a row's bucket index."""
    dialect = database.dialect
    key, index_of = bucket_key(Call.answered_at, period, buckets, dialect)
    query: Select[Any] = (
        select(
            Call.agent_user_id,
            Call.agent_interface,
            key.label("step"),
            func.count().label("calls"),
            handle_seconds(dialect).label("handle"),
        )
        .where(
            Call.answered_at >= period.start,
            Call.answered_at < period.end,
            Call.agent_interface.is_not(None),
            # A call still going is handled once it ends.
            Call.ended_at.is_not(None),
        )
        .group_by(Call.agent_user_id, Call.agent_interface, key)
    )
    if dialect == "postgresql" and not steps_are_buckets(period):
        # Fifty agents' hours of a month are tens of thousands of rows: the database folds
        # them into buckets too, so a bucket's row per agent comes back.
        steps = query.subquery()
        bucket, index_of = bucket_of_step(steps.c.step, buckets)
        agent = (steps.c.agent_user_id, steps.c.agent_interface)
        query = select(*agent, bucket, func.sum(steps.c.calls), func.sum(steps.c.handle)).group_by(
            *agent, bucket
        )
    async with report_reads(database) as connection:
        rows = list((await connection.execute(query)).all())
    return rows, index_of


def _add_calls(
    rows: list[Any],
    index_of: Callable[[Any], int | None],
    chosen: list[_Agent],
    lines: dict[int, AgentLine],
) -> None:
    by_extension = {a.extension: a.id for a in chosen if a.extension}
    owners: dict[str, int | None] = {}  # interface -> user: a few dozen for many rows
    for user_id, interface, bucket, count, handle_total in rows:
        owner = user_id
        if owner is None:
            if interface not in owners:
                owners[interface] = by_extension.get(extension_of(interface))
            owner = owners[interface]
        line = lines.get(owner) if owner is not None else None
        index = index_of(bucket)
        if line is None or index is None:
            continue
        count, handle = int(count), float(handle_total or 0.0)
        figures = line.figures(index)
        figures.calls_handled += count
        figures.handle_total += handle
        line.total.calls_handled += count
        line.total.handle_total += handle
