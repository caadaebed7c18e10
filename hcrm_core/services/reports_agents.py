"""Agent figures over a period: time signed in, ready, paused by reason, ringing, on call, in
wrap-up, and the calls each handled with their handle time.

Times come from the agent state history (``agent_state_changes``): each state lasts from its
change to the agent's next one (the last one until the period's end, or now). Calls come from
the call log: a call is the agent's when the agent saved it (``agent_user_id``) or, before
that, when it was answered on the agent's extension.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import case, func, select

from hcrm_core.db import Database
from hcrm_core.errors import ValidationFailed
from hcrm_core.models import Call, Role, User
from hcrm_core.models.agent_history import AGENT_STATES
from hcrm_core.services.agent_history import StateChange, changes_in
from hcrm_core.services.reports_period import Bucket, Period, bucket_index
from hcrm_core.services.reports_queues import epoch, group_unit, quarters_since

TIMED_STATES = tuple(s for s in AGENT_STATES if s != "signed_out")


@dataclass(slots=True)
class AgentFigures:
    seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(TIMED_STATES, 0.0))
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


@dataclass(slots=True)
class AgentLine:
    user_id: int
    username: str
    display_name: str
    buckets: list[AgentFigures]
    total: AgentFigures = field(default_factory=AgentFigures)


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
        a.id: AgentLine(a.id, a.username, a.display_name, [AgentFigures() for _ in buckets])
        for a in chosen
    }
    until = min(period.end, now or datetime.now(UTC))
    changes = await changes_in(database, period.start, period.end, list(lines))
    by_agent: dict[int, list[StateChange]] = defaultdict(list)
    for change in changes:
        by_agent[change.user_id].append(change)
    for user_id, rows in by_agent.items():
        _add_times(lines[user_id], rows, buckets, period.start, until)
    await _add_calls(database, period, chosen, lines, buckets)
    return AgentReport(period, buckets, list(lines.values()))


def _add_times(
    line: AgentLine,
    rows: list[StateChange],
    buckets: list[Bucket],
    start: datetime,
    until: datetime,
) -> None:
    for change, following in zip(rows, [*rows[1:], None], strict=True):
        begin = max(change.at, start)
        end = min(following.at if following is not None else until, until)
        if end <= begin:
            continue
        index = bucket_index(buckets, begin)
        while index is not None and index < len(buckets) and buckets[index].start < end:
            bucket = buckets[index]
            seconds = (min(end, bucket.end) - max(begin, bucket.start)).total_seconds()
            line.buckets[index].add_time(change.state, change.pause_reason, seconds)
            line.total.add_time(change.state, change.pause_reason, seconds)
            index += 1


def extension_of(interface: str) -> str:
    """``PJSIP/1001`` or ``Local/1001@ctx`` -> ``1001``."""
    tail = interface.split("/", 1)[-1]
    return tail.split("@", 1)[0].split(";", 1)[0]


async def _add_calls(
    database: Database,
    period: Period,
    chosen: list[_Agent],
    lines: dict[int, AgentLine],
    buckets: list[Bucket],
) -> None:
    """Calls handled and their handle time, summed by the database per agent and quarter
    hour (see :func:`~hcrm_core.services.reports_queues.quarters_since`)."""
    by_extension = {a.extension: a.id for a in chosen if a.extension}
    dialect = database.dialect
    unit = group_unit(period, buckets)
    quarter = quarters_since(Call.answered_at, period, dialect, unit)
    handle = epoch(Call.ended_at, dialect) - epoch(Call.answered_at, dialect)
    query = (
        select(
            Call.agent_user_id,
            Call.agent_interface,
            quarter.label("quarter"),
            func.count(),
            func.coalesce(func.sum(case((handle > 0, handle), else_=0)), 0),
        )
        .where(
            Call.answered_at >= period.start,
            Call.answered_at < period.end,
            Call.agent_interface.is_not(None),
            # A call still going is handled once it ends.
            Call.ended_at.is_not(None),
        )
        .group_by(Call.agent_user_id, Call.agent_interface, quarter)
    )
    async with database.session() as session:
        rows = (await session.execute(query)).all()
    for user_id, interface, at_quarter, count, handle_total in rows:
        owner = user_id or by_extension.get(extension_of(interface))
        line = lines.get(owner) if owner is not None else None
        index = bucket_index(buckets, period.start + int(at_quarter) * unit)
        if line is None or index is None:
            continue
        for figures in (line.buckets[index], line.total):
            figures.calls_handled += int(count)
            figures.handle_total += float(handle_total)
