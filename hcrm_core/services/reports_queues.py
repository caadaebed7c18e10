"""Queue figures over a period: offered, answered, abandoned, service level, ASA, handle time.

Computed from the call log (``calls``, one row per Linkedid, folded from Asterisk's events).
A call counts in the bucket in which it joined the queue. Definitions (docs/reports.md):

- offered: calls that joined the queue;
- answered: calls an agent of the queue connected to (``agent_interface`` set). An answered
  call is never abandoned, whatever else was said about it;
- abandoned: calls whose caller hung up while waiting (not answered); their waits are kept;
- service level: answered within ``sl_seconds`` of joining, as a share of offered;
- ASA: the average wait of answered calls; handle time: answer to hang-up of answered calls;
- longest wait: the longest wait of any offered call, answered or not.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import (
    DateTime,
    Integer,
    Interval,
    String,
    and_,
    bindparam,
    case,
    cast,
    func,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection

from hcrm_core.db import Database
from hcrm_core.errors import ValidationFailed
from hcrm_core.models import Call, CallQueue
from hcrm_core.services.reports_period import Bucket, Granularity, Period, bucket_index

DEFAULT_SL_SECONDS = 20


@dataclass(slots=True)
class QueueFigures:
    offered: int = 0
    answered: int = 0
    abandoned: int = 0
    answered_in_sl: int = 0
    answered_wait_total: float = 0.0
    abandoned_wait_total: float = 0.0
    handled: int = 0  # answered calls that have ended (their handle time is known)
    handle_total: float = 0.0
    longest_wait: float = 0.0

    def merge(self, other: QueueFigures) -> None:
        """Add the figures of another stretch of time (of the same queue) to these."""
        self.offered += other.offered
        self.answered += other.answered
        self.abandoned += other.abandoned
        self.answered_in_sl += other.answered_in_sl
        self.answered_wait_total += other.answered_wait_total
        self.abandoned_wait_total += other.abandoned_wait_total
        self.handled += other.handled
        self.handle_total += other.handle_total
        self.longest_wait = max(self.longest_wait, other.longest_wait)

    @property
    def other(self) -> int:
        """Offered calls neither answered nor abandoned (left the queue by a timeout, an
        overflow or a menu key)."""
        return self.offered - self.answered - self.abandoned

    @property
    def service_level(self) -> float | None:
        return 100.0 * self.answered_in_sl / self.offered if self.offered else None

    @property
    def asa(self) -> float | None:
        return self.answered_wait_total / self.answered if self.answered else None

    @property
    def average_handle(self) -> float | None:
        return self.handle_total / self.handled if self.handled else None

    @property
    def average_abandoned_wait(self) -> float | None:
        return self.abandoned_wait_total / self.abandoned if self.abandoned else None

    def as_dict(self) -> dict[str, float | int | None]:
        return {
            "offered": self.offered,
            "answered": self.answered,
            "abandoned": self.abandoned,
            "other": self.other,
            "abandoned_wait_total_seconds": _round(self.abandoned_wait_total),
            "abandoned_wait_average_seconds": _round(self.average_abandoned_wait),
            "service_level_percent": _round(self.service_level),
            "asa_seconds": _round(self.asa),
            "handle_time_average_seconds": _round(self.average_handle),
            "handle_time_total_seconds": _round(self.handle_total),
            "longest_wait_seconds": _round(self.longest_wait),
        }


@dataclass(slots=True)
class QueueLine:
    queue: str
    display_name: str
    buckets: list[QueueFigures]
    total: QueueFigures = field(default_factory=QueueFigures)


@dataclass(frozen=True, slots=True)
class QueueReport:
    period: Period
    buckets: list[Bucket]
    sl_seconds: int
    queues: list[QueueLine]


# The distinct queues of the call log by a skip scan of ix_calls_queue_queued_at: one index
# seek per queue, where a plain DISTINCT reads every call ever logged.
_LOGGED_QUEUES = text(
    "WITH RECURSIVE logged(name) AS ("
    " SELECT min(queue) FROM calls"
    " UNION ALL"
    " SELECT (SELECT min(queue) FROM calls WHERE queue > logged.name)"
    " FROM logged WHERE logged.name IS NOT NULL"
    ") SELECT name FROM logged WHERE name IS NOT NULL"
).columns(name=String)


@asynccontextmanager
async def report_reads(database: Database) -> AsyncIterator[AsyncConnection]:
    """A connection for a report's reads (Core statements, plain rows).

    PostgreSQL plans each statement for the period asked: a prepared statement run five times
    may be given a generic plan, which guesses a few hundred rows for any period and reads a
    month's calls through an index (twice as slow on the benchmark's month); planning one
    takes a millisecond."""
    async with database.session() as session:
        connection = await session.connection()
        if database.dialect == "postgresql":
            await connection.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
        yield connection


async def known_queues(database: Database) -> dict[str, str]:
    """Queue name -> display name: the queues kept in the database and any in the call log."""
    async with database.session() as session:
        kept = {q.name: q.display_name for q in await session.scalars(select(CallQueue))}
        logged = await session.scalars(_LOGGED_QUEUES)
        for name in logged:
            if name:
                kept.setdefault(name, name)
    return kept


async def queue_report(
    database: Database,
    period: Period,
    *,
    queues: Sequence[str] | None = None,
    sl_seconds: int = DEFAULT_SL_SECONDS,
) -> QueueReport:
    """Figures per queue and bucket; ``queues`` limits the report (an unknown one is refused,
    field ``queue``). A period without calls is a report of zeros, not an error."""
    names = await known_queues(database)
    for name in queues or ():
        if name not in names:
            raise ValidationFailed("queue", f"no queue named {name!r}")
    wanted = sorted(queues) if queues else sorted(names)
    buckets = period.buckets()
    lines = {n: QueueLine(n, names[n], [QueueFigures() for _ in buckets]) for n in wanted}
    for queue, index, figures in await _sums(database, period, buckets, wanted, sl_seconds):
        line = lines.get(queue)
        if index is None or line is None:
            continue
        line.buckets[index].merge(figures)
        line.total.merge(figures)
    return QueueReport(period, buckets, sl_seconds, list(lines.values()))


QUARTER = timedelta(minutes=15)


def epoch(column: Any, dialect: str) -> Any:
    """Seconds since 1970 of a timestamp column, in SQL (SQLite keeps naive UTC text)."""
    if dialect == "sqlite":
        return (func.julianday(column) - 2440587.5) * 86400.0
    # date_part is double precision; EXTRACT has been numeric since PostgreSQL 14, and its
    # arithmetic made a month's figures several times slower.
    return func.date_part("epoch", column)


def group_unit(period: Period, buckets: Sequence[Bucket]) -> timedelta:
    """The longest step (an hour, else a quarter hour) every bucket starts a whole number of
    from the period's start: the database sums by it, so fewer rows come back."""
    hour = timedelta(hours=1)
    if all((b.start - period.start) % hour == timedelta(0) for b in buckets):
        return hour
    return QUARTER


def quarters_since(
    column: Any, period: Period, dialect: str, unit: timedelta = timedelta(minutes=15)
) -> Any:
    """Whole ``unit`` steps (quarter hours by default) from the period's start to ``column``,
    in SQL."""
    # A millisecond added: SQLite's julianday arithmetic may land a moment exactly on a
    # boundary a few microseconds before it, in the previous step.
    offset = period.start.timestamp() - 0.001
    since = (epoch(column, dialect) - offset) / unit.total_seconds()
    return cast(since, Integer) if dialect == "sqlite" else func.floor(since)


def bucket_key(
    column: Any, period: Period, buckets: Sequence[Bucket], dialect: str
) -> tuple[Any, Callable[[Any], int | None]]:
    """A SQL expression to group ``column`` (a timestamp inside the period) by, and the
    function that turns a value of it into the bucket's index.

    The database groups by whole steps (an hour, or a quarter hour: :func:`group_unit`) since
    the period's start; every bucket, 15 minutes to a month, in any zone whose offset is whole
    quarter hours, is a run of them, and Python folds them into buckets."""
    unit = group_unit(period, buckets)
    listed, start = list(buckets), period.start
    index_of: Callable[[datetime], int | None] = partial(bucket_index, listed)
    if steps_are_buckets(period):
        # Each bucket is one step: its index is arithmetic, not a search (a month by quarter
        # hour is tens of thousands of agent rows).
        index_of = partial(_step_index, start, unit, len(listed))
    if dialect == "postgresql":
        # date_bin (PostgreSQL 14) is the cheapest per row of the ways tried (epoch
        # arithmetic, width_bucket over the buckets' starts, date_trunc).
        origin = bindparam(None, start, type_=DateTime(timezone=True))
        step = func.date_bin(bindparam(None, unit, type_=Interval()), column, origin)
        return step, index_of
    return quarters_since(column, period, dialect, unit), lambda key: index_of(
        start + int(key) * unit
    )


def steps_are_buckets(period: Period) -> bool:
    """Whether :func:`bucket_key`'s steps are the buckets themselves (by 15 minutes or by
    hour), so nothing is left to fold."""
    return period.granularity in (Granularity.QUARTER, Granularity.HOUR)


def _step_index(start: datetime, unit: timedelta, count: int, at: datetime) -> int | None:
    index = (at - start) // unit
    return index if 0 <= index < count else None


def bucket_of_step(step: Any, buckets: Sequence[Bucket]) -> tuple[Any, Callable[[Any], int]]:
    """PostgreSQL: the bucket of a step :func:`bucket_key` grouped by (``width_bucket`` over
    the buckets' starts), and the function that turns it into the bucket's index. For
    grouping the steps again when a report has many groups (an agent's hours)."""
    starts = bindparam(None, [b.start for b in buckets], type_=ARRAY(DateTime(timezone=True)))
    return func.width_bucket(step, starts), lambda key: int(key) - 1


def handle_seconds(dialect: str, condition: Any = None) -> Any:
    """The handle time (answer to hang-up, never negative) of the rows (those meeting
    ``condition``), summed, in SQL (NULL for no row)."""
    handle: Any
    if dialect == "postgresql":
        # One interval per row, turned into seconds once per group.
        handle = func.sum(func.greatest(Call.ended_at - Call.answered_at, timedelta(0)))
    else:
        seconds = epoch(Call.ended_at, dialect) - epoch(Call.answered_at, dialect)
        handle = func.sum(case((seconds > 0, seconds), else_=0))
    if condition is not None:
        handle = handle.filter(condition)
    return func.date_part("epoch", handle) if dialect == "postgresql" else handle


async def _sums(
    database: Database,
    period: Period,
    buckets: Sequence[Bucket],
    queues: Sequence[str],
    sl_seconds: int,
) -> list[tuple[str, int | None, QueueFigures]]:
    """The figures per queue and bucket (or part of one), summed by the database."""
    dialect = database.dialect
    key, index_of = bucket_key(Call.queued_at, period, buckets, dialect)
    wait = func.coalesce(Call.queue_wait_seconds, 0.0)
    answered = and_(Call.agent_interface.is_not(None), Call.answered_at.is_not(None))
    abandoned = and_(Call.agent_interface.is_(None), Call.abandoned.is_(True))
    ended = and_(answered, Call.ended_at.is_not(None))

    # FILTER clauses rather than CASE: the rows a condition rejects are skipped by the
    # aggregate, not added as zeros (measured cheaper). A sum of no rows is NULL, read as 0.
    def count(condition: Any) -> Any:
        return func.count().filter(condition)

    def total(value: Any, condition: Any) -> Any:
        return func.sum(value).filter(condition)

    query = (
        select(
            Call.queue,
            key.label("bucket"),
            func.count(),
            count(answered),
            count(and_(answered, wait <= sl_seconds)),
            total(Call.queue_wait_seconds, answered),
            count(abandoned),
            total(Call.queue_wait_seconds, abandoned),
            count(ended),
            handle_seconds(dialect, ended),
            func.max(Call.queue_wait_seconds),
        )
        .where(
            Call.queued_at >= period.start,
            Call.queued_at < period.end,
            Call.queue.in_(list(queues)),
        )
        .group_by(Call.queue, key)
    )
    async with report_reads(database) as connection:
        rows = (await connection.execute(query)).all()
    return [
        (
            r[0],
            index_of(r[1]),
            QueueFigures(
                offered=int(r[2]),
                answered=int(r[3]),
                answered_in_sl=int(r[4]),
                answered_wait_total=float(r[5] or 0.0),
                abandoned=int(r[6]),
                abandoned_wait_total=float(r[7] or 0.0),
                handled=int(r[8]),
                handle_total=float(r[9] or 0.0),
                longest_wait=float(r[10] or 0.0),
            ),
        )
        for r in rows
    ]


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)
