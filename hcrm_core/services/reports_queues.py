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

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import Integer, and_, case, cast, func, select

from hcrm_core.db import Database
from hcrm_core.errors import ValidationFailed
from hcrm_core.models import Call, CallQueue
from hcrm_core.services.reports_period import Bucket, Period, bucket_index

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


async def known_queues(database: Database) -> dict[str, str]:
    """Queue name -> display name: the queues kept in the database and any in the call log."""
    async with database.session() as session:
        kept = {q.name: q.display_name for q in await session.scalars(select(CallQueue))}
        logged = await session.scalars(select(Call.queue).where(Call.queue.is_not(None)).distinct())
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
    unit = group_unit(period, buckets)
    for queue, step, partial in await _quarters(database, period, wanted, sl_seconds, unit):
        index = bucket_index(buckets, period.start + step * unit)
        line = lines.get(queue)
        if index is None or line is None:
            continue
        line.buckets[index].merge(partial)
        line.total.merge(partial)
    return QueueReport(period, buckets, sl_seconds, list(lines.values()))


QUARTER = timedelta(minutes=15)


def epoch(column: Any, dialect: str) -> Any:
    """Seconds since 1970 of a timestamp column, in SQL (SQLite keeps naive UTC text)."""
    if dialect == "sqlite":
        return (func.julianday(column) - 2440587.5) * 86400.0
    return func.extract("epoch", column)


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


async def _quarters(
    database: Database, period: Period, queues: Sequence[str], sl_seconds: int, unit: timedelta
) -> list[tuple[str, int, QueueFigures]]:
    """The figures per queue and quarter hour since the period's start, summed by the
    database: every bucket (15 minutes to a month, in any zone whose offset is whole quarter
    hours) is a run of whole quarters, so the rows a report reads stay few."""
    dialect = database.dialect
    quarter = quarters_since(Call.queued_at, period, dialect, unit)
    wait = func.coalesce(Call.queue_wait_seconds, 0.0)
    answered = and_(Call.agent_interface.is_not(None), Call.answered_at.is_not(None))
    abandoned = and_(Call.agent_interface.is_(None), Call.abandoned.is_(True))
    ended = and_(answered, Call.ended_at.is_not(None))
    handle = epoch(Call.ended_at, dialect) - epoch(Call.answered_at, dialect)

    def total(condition: Any, value: Any = 1) -> Any:
        return func.coalesce(func.sum(case((condition, value), else_=0)), 0)

    query = (
        select(
            Call.queue,
            quarter.label("quarter"),
            func.count(),
            total(answered),
            total(and_(answered, wait <= sl_seconds)),
            total(answered, wait),
            total(abandoned),
            total(abandoned, wait),
            total(ended),
            total(and_(ended, handle > 0), handle),
            func.max(wait),
        )
        .where(
            Call.queued_at >= period.start,
            Call.queued_at < period.end,
            Call.queue.in_(list(queues)),
        )
        .group_by(Call.queue, quarter)
    )
    async with database.session() as session:
        rows = (await session.execute(query)).all()
    return [
        (
            r[0],
            int(r[1]),
            QueueFigures(
                offered=int(r[2]),
                answered=int(r[3]),
                answered_in_sl=int(r[4]),
                answered_wait_total=float(r[5]),
                abandoned=int(r[6]),
                abandoned_wait_total=float(r[7]),
                handled=int(r[8]),
                handle_total=float(r[9]),
                longest_wait=float(r[10] or 0.0),
            ),
        )
        for r in rows
    ]


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)
