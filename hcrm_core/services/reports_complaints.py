"""Complaint figures over a period: received (by category and severity), and what became of
them by the end of the period: closed and how long that took, still open, overdue against
the policy's due times.

A complaint counts in the bucket in which it was received (``created_at``); what became of it
is read from its status history (``complaint_status_changes``; docs/reports.md) as it was at
the end of the period (now, for a period not over yet), so the report of a past period never
changes:

- open: not closed (received, investigating, responded, reopened);
- overdue: open and past its due time under the complaints policy (not acknowledged by
  ``acknowledge_due_at``, or not answered by ``respond_due_at``, the due moments then in
  force), as the complaints inbox shows it;
- answered late: answered (responded or closed) after ``respond_due_at``;
- time to close: from received to closed, of the closed ones.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from hcrm_core.db import Database
from hcrm_core.models import (
    Complaint,
    ComplaintSeverity,
    ComplaintStatus,
    ComplaintStatusChange,
)
from hcrm_core.models.base import utcnow
from hcrm_core.services.case_history import as_of, complaint_state, complaint_story
from hcrm_core.services.complaints import AWAITING_RESPONSE, is_past_due
from hcrm_core.services.reports_period import Bucket, Period, average_hours, bucket_index
from hcrm_core.services.reports_queues import epoch, group_unit, quarters_since

SEVERITIES = tuple(s.value for s in ComplaintSeverity)
# What the figures read of a complaint without history (its own timestamps).
_COLUMNS = (
    Complaint.id,
    Complaint.category,
    Complaint.severity,
    Complaint.status,
    Complaint.created_at,
    Complaint.acknowledge_due_at,
    Complaint.respond_due_at,
    Complaint.acknowledged_at,
    Complaint.responded_at,
    Complaint.resolved_at,
    Complaint.updated_at,
)
# One group of complaints: bucket index, category, severity, closed, overdue, answered late,
# how many, their received-to-closed seconds summed.
Group = tuple[int, str, ComplaintSeverity, bool, bool, bool, int, float]


@dataclass(slots=True)
class ComplaintFigures:
    received: int = 0
    by_severity: Counter[str] = field(default_factory=Counter)
    open: int = 0
    overdue: int = 0
    answered_late: int = 0
    closed: int = 0
    close_seconds_total: float = 0.0

    def add(
        self,
        severity: ComplaintSeverity,
        closed: bool,
        overdue: bool,
        late: bool,
        count: int,
        close_seconds: float,
    ) -> None:
        """``count`` complaints of one severity, closed or open (and then ``overdue`` or
        not), answered late or not, with their received-to-closed seconds summed."""
        self.received += count
        self.by_severity[severity.value] += count
        if closed:
            self.closed += count
            self.close_seconds_total += close_seconds
        else:
            self.open += count
            self.overdue += count if overdue else 0
        self.answered_late += count if late else 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "received": self.received,
            **{f"severity_{s}": self.by_severity[s] for s in SEVERITIES},
            "open": self.open,
            "overdue": self.overdue,
            "answered_late": self.answered_late,
            "closed": self.closed,
            "time_to_close_average_hours": average_hours(self.close_seconds_total, self.closed),
        }


@dataclass(frozen=True, slots=True)
class ComplaintReport:
    period: Period
    buckets: list[Bucket]
    per_bucket: list[ComplaintFigures]
    total: ComplaintFigures
    by_category: dict[str, ComplaintFigures]


async def complaint_report(
    database: Database, period: Period, *, now: datetime | None = None
) -> ComplaintReport:
    """Complaints received in the period, per bucket and per category; what they were at
    the end of the period (``now`` for a period not over). A period without complaints is a
    report of zeros."""
    at, cutoff = as_of(period.end, now or utcnow())
    buckets = period.buckets()
    async with database.session() as session:
        groups = await _groups(session, database.dialect, period, buckets, at, cutoff)
        groups += await _groups_without_history(session, period, buckets, at, cutoff)
    per_bucket = [ComplaintFigures() for _ in buckets]
    total = ComplaintFigures()
    by_category: dict[str, ComplaintFigures] = {}
    for index, category, severity, closed, overdue, late, count, seconds in groups:
        named = by_category.setdefault(category, ComplaintFigures())
        for target in (per_bucket[index], total, named):
            target.add(severity, closed, overdue, late, count, seconds)
    ordered = dict(sorted(by_category.items(), key=lambda kv: (-kv[1].received, kv[0])))
    return ComplaintReport(period, buckets, per_bucket, total, ordered)


def _received_in(period: Period) -> tuple[Any, ...]:
    return (Complaint.created_at >= period.start, Complaint.created_at < period.end)


def _last_rows(period: Period, cutoff: datetime | None) -> Any:
    """Per complaint received in the period, its last history row before ``cutoff`` (rank
    1) with the last moments it was reopened, responded to and closed (window functions,
    SQLite and PostgreSQL alike)."""
    change = ComplaintStatusChange
    each = change.complaint_id  # the window: one complaint's rows

    def last_time(status: ComplaintStatus) -> Any:
        return func.max(case((change.status == status, change.at))).over(partition_by=each)

    ranked = (
        select(
            Complaint.created_at,
            change.status,
            change.severity,
            change.category,
            change.acknowledge_due_at,
            change.respond_due_at,
            change.at,
            func.row_number()
            .over(partition_by=each, order_by=(change.at.desc(), change.id.desc()))
            .label("rank"),
            last_time(ComplaintStatus.REOPENED).label("reopened"),
            last_time(ComplaintStatus.RESPONDED).label("responded"),
            last_time(ComplaintStatus.CLOSED).label("closed"),
        )
        .join(Complaint, Complaint.id == change.complaint_id)
        # A complaint's rows start when it was received: read by their time index.
        .where(*_received_in(period), change.at >= period.start)
    )
    if cutoff is not None:
        ranked = ranked.where(change.at < cutoff)
    return ranked.subquery()


async def _groups(
    session: AsyncSession,
    dialect: str,
    period: Period,
    buckets: list[Bucket],
    at: datetime,
    cutoff: datetime | None,
) -> list[Group]:
    """The complaints with a history, counted by the database per quarter hour (or hour),
    category, severity and what they were before the cutoff (closed; overdue at ``at``;
    answered late). Answered: its last response since it was last reopened, else its
    closing then, as :func:`hcrm_core.services.case_history.complaint_state` reads it."""
    rows = _last_rows(period, cutoff)
    last = rows.c

    def since_reopened(moment: Any) -> Any:
        return and_(moment.is_not(None), or_(last.reopened.is_(None), moment > last.reopened))

    answered = case(
        (since_reopened(last.responded), last.responded),
        (since_reopened(last.closed), last.closed),
    )
    closed = last.status == ComplaintStatus.CLOSED
    overdue = or_(
        and_(last.status == ComplaintStatus.RECEIVED, last.acknowledge_due_at < at),
        and_(last.status.in_(AWAITING_RESPONSE), last.respond_due_at < at),
    )
    late = and_(answered.is_not(None), answered > last.respond_due_at)
    took = case((closed, epoch(last.at, dialect) - epoch(last.created_at, dialect)))
    unit = group_unit(period, buckets)
    keys = (
        quarters_since(last.created_at, period, dialect, unit),
        last.category,
        last.severity,
        case((closed, 1), else_=0),
        case((overdue, 1), else_=0),
        case((late, 1), else_=0),
    )
    query = (
        select(*keys, func.count(), func.coalesce(func.sum(took), 0.0))
        .select_from(rows)
        .where(last.rank == 1)
        .group_by(*keys)
    )
    result: list[Group] = []
    first = period.start  # a property that computes: once, not per row
    for (
        step,
        category,
        severity,
        is_closed,
        is_overdue,
        is_late,
        count,
        seconds,
    ) in await session.execute(query):
        index = bucket_index(buckets, first + int(step) * unit)
        if index is not None:
            flags = (bool(is_closed), bool(is_overdue), bool(is_late))
            result.append((index, category, severity, *flags, int(count), float(seconds)))
    return result


async def _groups_without_history(
    session: AsyncSession,
    period: Period,
    buckets: list[Bucket],
    at: datetime,
    cutoff: datetime | None,
) -> list[Group]:
    """Complaints with no history row (written straight into the table, as test data and
    old rows before the backfill were), each read from its own timestamps as the backfill
    reads them; usually none."""
    change = ComplaintStatusChange
    has_history = select(change.id).where(change.complaint_id == Complaint.id).exists()
    rows = await session.execute(select(*_COLUMNS).where(*_received_in(period), ~has_history))
    result: list[Group] = []
    for row in rows:
        index = bucket_index(buckets, row.created_at)
        state = complaint_state(complaint_story(row), cutoff)
        if index is None or state is None:
            continue
        closed = state.status is ComplaintStatus.CLOSED
        seconds = 0.0
        if closed and state.closed_at is not None:
            seconds = (state.closed_at - row.created_at).total_seconds()
        answered, due = state.answered_at, state.respond_due_at
        late = answered is not None and due is not None and answered > due
        overdue = not closed and is_past_due(state, at)
        result.append((index, state.category, state.severity, closed, overdue, late, 1, seconds))
    return result
