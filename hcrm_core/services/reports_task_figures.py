"""Task figures over a period: tasks created (by where they came from), what became of them
(done, could not reach, cancelled, still open, overdue) and how long they took, per bucket
and per owner.

Computed from the task inbox (``followup_tasks``; docs/reports.md). A task counts in the
bucket in which it was created; what became of it is its state when the report is made.
Overdue: still open (open or being worked) with a due moment (``due_at``) past, or without
one a due day (``due_date``) before today in the hospital's zone, as the wallboard counts
them. Time to done: created to done, of the done ones. Its owner is the user it is assigned
to, else the one who claimed it; tasks with neither are "unassigned".
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, func, or_, select

from hcrm_core.db import Database
from hcrm_core.errors import ValidationFailed
from hcrm_core.models import FollowUpStatus, FollowUpTask, TaskSource, User
from hcrm_core.models.base import utcnow
from hcrm_core.services.reports_period import Bucket, Period, average_hours, bucket_index
from hcrm_core.services.reports_queues import epoch, group_unit, quarters_since
from hcrm_core.services.reports_tasks import OPEN_STATUSES

SOURCES = tuple(s.value for s in TaskSource)
UNASSIGNED = "unassigned"


@dataclass(slots=True)
class TaskFigures:
    created: int = 0
    by_source: Counter[str] = field(default_factory=Counter)
    done: int = 0
    cannot_reach: int = 0
    cancelled: int = 0
    open: int = 0
    overdue: int = 0
    done_seconds_total: float = 0.0

    def add(
        self, source: TaskSource, status: FollowUpStatus, overdue: bool, count: int, done: float
    ) -> None:
        """``count`` tasks of one source and status (``overdue``: open and past due; ``done``:
        their created-to-done seconds, summed)."""
        self.created += count
        self.by_source[source.value] += count
        if status in OPEN_STATUSES:
            self.open += count
            self.overdue += count if overdue else 0
        elif status is FollowUpStatus.DONE:
            self.done += count
            self.done_seconds_total += done
        elif status is FollowUpStatus.CANNOT_REACH:
            self.cannot_reach += count
        else:
            self.cancelled += count

    def as_dict(self) -> dict[str, Any]:
        return {
            "created": self.created,
            **{f"source_{s}": self.by_source[s] for s in SOURCES},
            "done": self.done,
            "cannot_reach": self.cannot_reach,
            "cancelled": self.cancelled,
            "open": self.open,
            "overdue": self.overdue,
            "time_to_done_average_hours": average_hours(self.done_seconds_total, self.done),
        }


@dataclass(frozen=True, slots=True)
class TaskReport:
    period: Period
    buckets: list[Bucket]
    per_bucket: list[TaskFigures]
    total: TaskFigures
    by_owner: dict[str, TaskFigures]


async def task_report(
    database: Database,
    period: Period,
    *,
    owners: Sequence[str] | None = None,
    now: datetime | None = None,
) -> TaskReport:
    """Tasks created in the period, per bucket and per owner (``owners``: usernames, the
    report limited to their tasks; an unknown one is refused, field ``owner``)."""
    now = now or utcnow()
    buckets = period.buckets()
    async with database.session() as session:
        if owners:
            known = set(
                await session.scalars(select(User.username).where(User.username.in_(owners)))
            )
            for name in owners:
                if name not in known:
                    raise ValidationFailed("owner", f"no user named {name!r}")
        groups = await _groups(session, database.dialect, period, buckets, owners, now)
    per_bucket = [TaskFigures() for _ in buckets]
    total = TaskFigures()
    by_owner: dict[str, TaskFigures] = {name: TaskFigures() for name in owners or ()}
    for index, source, status, username, overdue, count, done in groups:
        owner = by_owner.setdefault(username or UNASSIGNED, TaskFigures())
        for figures in (per_bucket[index], total, owner):
            figures.add(source, status, overdue, count, done)
    return TaskReport(period, buckets, per_bucket, total, dict(sorted(by_owner.items())))


async def _groups(
    session: Any,
    dialect: str,
    period: Period,
    buckets: list[Bucket],
    owners: Sequence[str] | None,
    now: datetime,
) -> list[tuple[int, TaskSource, FollowUpStatus, str | None, bool, int, float]]:
    """The tasks counted by the database per quarter hour (or hour), source, status, owner
    and overdue or not, with their created-to-done seconds summed."""
    today = now.astimezone(period.tz).date()
    unit = group_unit(period, buckets)
    task = FollowUpTask
    overdue = and_(
        task.status.in_(OPEN_STATUSES),
        or_(task.due_at < now, and_(task.due_at.is_(None), task.due_date < today)),
    )
    took = epoch(task.closed_at, dialect) - epoch(task.created_at, dialect)
    done = case((and_(task.status == FollowUpStatus.DONE, task.closed_at.is_not(None)), took))
    late = case((overdue, 1), else_=0)
    keys = (
        quarters_since(task.created_at, period, dialect, unit),
        task.source_kind,
        task.status,
        User.username,
        late,
    )
    owner_id = func.coalesce(task.owner_user_id, task.claimed_by_user_id)
    query = (
        select(*keys, func.count(), func.coalesce(func.sum(done), 0.0))
        .outerjoin(User, User.id == owner_id)
        .where(task.created_at >= period.start, task.created_at < period.end)
        .group_by(*keys)
    )
    if owners:
        query = query.where(User.username.in_(list(owners)))
    result = []
    first = period.start  # a property that computes: once, not per row
    for step, source, status, username, is_late, count, seconds in await session.execute(query):
        index = bucket_index(buckets, first + int(step) * unit)
        if index is not None:
            result.append(
                (index, source, status, username, bool(is_late), int(count), float(seconds))
            )
    return result
