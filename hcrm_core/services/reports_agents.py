"""Agent figures over a period: time signed in, ready, paused by reason, ringing, on call, in
wrap-up, and the calls each handled with their handle time.

Times come from the agent state history (``agent_state_changes``): each state lasts from its
change to the agent's next one (the last one until the period's end, or now). Calls come from
the call log: a call is the agent's when the agent saved it (``agent_user_id``) or, before
that, when it was answered on the agent's extension.
"""

from __future__ import annotations

import asyncio
import gc
import itertools
from bisect import bisect_left, bisect_right
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select

from hcrm_core.db import Database
from hcrm_core.errors import ValidationFailed
from hcrm_core.models import Role, User
from hcrm_core.models.agent_history import AGENT_STATES
from hcrm_core.services.reports_agent_calls import HandledCalls, handled_calls
from hcrm_core.services.reports_agent_states import stretches
from hcrm_core.services.reports_period import Bucket, Period

TIMED_STATES = tuple(s for s in AGENT_STATES if s != "signed_out")
# AgentColumns.figures spells these out.
assert TIMED_STATES == ("ready", "paused", "ringing", "on_call", "wrap_up"), TIMED_STATES
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


class AgentColumns:
    """One agent's figures per bucket while they are summed: a column (a list over the
    buckets) per state, for the calls and for their handle time, and which buckets hold
    anything. A month by quarter hour is 2,976 buckets per agent, most of them outside the
    agent's shifts: a stretch over many buckets is a slice, and only buckets that hold
    something become :class:`AgentFigures`, once, at the end."""

    __slots__ = ("_calls", "_edges", "_handle", "_paused", "_seconds", "_used", "_widths", "total")

    def __init__(self, edges: list[float]) -> None:
        """``edges``: every bucket's start, then the last one's end, as epoch seconds."""
        count = len(edges) - 1
        self._edges = edges
        self._widths = [b - a for a, b in itertools.pairwise(edges)]
        self._seconds = {state: [0.0] * count for state in TIMED_STATES}
        self._paused: dict[int, dict[str, float]] = {}
        self._calls = [0] * count
        self._handle = [0.0] * count
        self._used = bytearray(count)
        self.total = AgentFigures()

    def add_stretch(self, state: str, reason: str, begin: float, end: float) -> None:
        """A stretch of ``state`` from ``begin`` to ``end`` (epoch seconds, inside the
        buckets), cut at the buckets' edges; signed out (or an unknown state) adds nothing."""
        column = self._seconds.get(state)
        if column is None:
            return
        self.total.add_time(state, reason, end - begin)
        edges = self._edges
        first = bisect_right(edges, begin) - 1
        last = bisect_left(edges, end, first) - 1  # the last bucket starting before the end
        self._used[first : last + 1] = b"\x01" * (last + 1 - first)
        if first == last:
            column[first] += end - begin
        else:
            column[first] += edges[first + 1] - begin
            # The buckets in between are the stretch's alone (an agent's stretches do not
            # overlap): nothing was in them to add to.
            column[first + 1 : last] = self._widths[first + 1 : last]
            column[last] += end - edges[last]
        if state == "paused":
            key = reason or "no reason"
            for index in range(first, last + 1):
                seconds = min(end, edges[index + 1]) - max(begin, edges[index])
                reasons = self._paused.setdefault(index, {})
                reasons[key] = reasons.get(key, 0.0) + seconds

    def add_calls(
        self, indexes: Sequence[int], counts: Sequence[int] | None, handles: Sequence[float]
    ) -> None:
        """Calls in bucket ``indexes[k]``: ``counts[k]`` of them (one when ``counts`` is
        None), of ``handles[k]`` seconds of handle time."""
        calls, handle, used = self._calls, self._handle, self._used
        for index, count, seconds in zip(
            indexes, counts or itertools.repeat(1), handles, strict=False
        ):
            calls[index] += count
            handle[index] += seconds
            used[index] = 1
        self.total.calls_handled += len(indexes) if counts is None else sum(counts)
        self.total.handle_total += sum(handles)

    def figures(self) -> tuple[list[AgentFigures], AgentFigures]:
        """Every bucket's figures (:data:`NOTHING` where there are none), and the total."""
        buckets = [NOTHING] * len(self._used)
        paused = self._paused
        states = zip(*self._seconds.values(), strict=True)
        cells = zip(range(len(buckets)), states, self._calls, self._handle, strict=True)
        # Tens of thousands of buckets: their time by state is a dict literal (the same
        # keys as TIMED_STATES), three times quicker to make than one zipped from names.
        for index, (ready, pause, ringing, on_call, wrap_up), calls, handle in itertools.compress(
            cells, self._used
        ):
            seconds = {
                "ready": ready,
                "paused": pause,
                "ringing": ringing,
                "on_call": on_call,
                "wrap_up": wrap_up,
            }
            buckets[index] = AgentFigures(seconds, paused.get(index, {}), calls, handle)
        return buckets, self.total


@dataclass(slots=True)
class AgentLine:
    user_id: int
    username: str
    display_name: str
    # Buckets without time or calls are :data:`NOTHING`.
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
    edges = [b.start.timestamp() for b in buckets] + [period.end.timestamp()]
    columns = {a.id: AgentColumns(edges) for a in chosen}
    until = min(period.end, now or datetime.now(UTC)).timestamp()
    # Two connections: the database reads the calls while the stretches are read.
    states, calls = await asyncio.gather(
        stretches(database, period, list(columns), until),
        handled_calls(database, period, buckets, edges),
    )
    with _collector_paused():
        for user_id, state, reason, begin, end in states:
            columns[user_id].add_stretch(state, reason, begin, end)
        _add_calls(calls, chosen, columns)
        lines = [
            AgentLine(a.id, a.username, a.display_name, *columns[a.id].figures()) for a in chosen
        ]
    return AgentReport(period, buckets, lines)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """No cyclic garbage collection while the figures are summed, with nothing awaited (no
    other task runs meanwhile). A month by quarter hour makes some 200,000 objects (a
    bucket's figures and its two dicts), freed by reference counting, no cycles; the
    collections they triggered took two thirds of the time of making them (measured)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def extension_of(interface: str) -> str:
    """``PJSIP/1001`` or ``Local/1001@ctx`` -> ``1001``."""
    tail = interface.split("/", 1)[-1]
    return tail.split("@", 1)[0].split(";", 1)[0]


def _add_calls(
    calls: list[HandledCalls], chosen: list[_Agent], columns: dict[int, AgentColumns]
) -> None:
    """Each group of calls to its agent: the user who saved them, else the agent whose
    extension answered them (a call saved by someone not in the report is not counted)."""
    by_extension = {a.extension: a.id for a in chosen if a.extension}
    for group in calls:
        owner = group.user_id
        if owner is None:
            owner = by_extension.get(extension_of(group.interface))
        agent = columns.get(owner) if owner is not None else None
        if agent is not None:
            agent.add_calls(group.indexes, group.counts, group.handles)
