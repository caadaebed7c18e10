"""Task figures over a period: tasks created (by where they came from), what became of them
by the end of the period (done, could not reach, cancelled, still open, overdue) and how long
they took, per bucket and per owner.

A task counts in the bucket in which it was created (``followup_tasks.created_at``); what
became of it, and whose it was, is read from its status history (``task_status_changes``;
docs/reports.md) as it was at the end of the period (now, for a period not over yet), so the
report of a past period never changes. Overdue: still open (open or being worked) at that
moment with a due moment (``due_at``) before it, or without one a due day (``due_date``)
before that moment's day in the hospital's zone, as the wallboard counts them. Time to done:
created to done, of the done ones. Its owner is the user it was assigned to, else the one who
had claimed it; tasks with neither are "unassigned".
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from hcrm_core.db import Database
from hcrm_core.errors import ValidationFailed
from hcrm_core.models import FollowUpStatus, FollowUpTask, TaskSource, TaskStatusChange, User
from hcrm_core.models.base import utcnow
from hcrm_core.services.case_history import as_of, task_state, task_story
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


# What the figures read of a task without history (its own timestamps).
_COLUMNS = (
    FollowUpTask.id,
    FollowUpTask.created_at,
    FollowUpTask.source_kind,
    FollowUpTask.due_at,
    FollowUpTask.due_date,
    FollowUpTask.status,
    FollowUpTask.owner_user_id,
    FollowUpTask.claimed_by_user_id,
    FollowUpTask.claimed_at,
    FollowUpTask.closed_at,
    FollowUpTask.updated_at,
)
# One group of tasks: bucket index, source, status, owner's username, overdue, how many,
# their created-to-done seconds summed.
Group = tuple[int, TaskSource, FollowUpStatus, str | None, bool, int, float]


@dataclass(frozen=True, slots=True)
class _Moment:
    """What the figures describe: the tasks just before ``cutoff`` (None: as they are),
    overdue as of ``at`` (and its day in the hospital's zone)."""

    at: datetime
    cutoff: datetime | None
    today: date


async def task_report(
    database: Database,
    period: Period,
    *,
    owners: Sequence[str] | None = None,
    now: datetime | None = None,
) -> TaskReport:
    """Tasks created in the period, per bucket and per owner (``owners``: usernames, the
    report limited to their tasks; an unknown one is refused, field ``owner``); what they
    were at the end of the period (``now`` for a period not over)."""
    at, cutoff = as_of(period.end, now or utcnow())
    moment = _Moment(at, cutoff, at.astimezone(period.tz).date())
    buckets = period.buckets()
    async with database.session() as session:
        if owners:
            known = set(
                await session.scalars(select(User.username).where(User.username.in_(owners)))
            )
            for name in owners:
                if name not in known:
                    raise ValidationFailed("owner", f"no user named {name!r}")
        groups = await _groups(session, database.dialect, period, buckets, owners, moment)
        groups += await _groups_without_history(session, period, buckets, owners, moment)
    per_bucket = [TaskFigures() for _ in buckets]
    total = TaskFigures()
    by_owner: dict[str, TaskFigures] = {name: TaskFigures() for name in owners or ()}
    for index, source, status, username, overdue, count, done in groups:
        owner = by_owner.setdefault(username or UNASSIGNED, TaskFigures())
        for figures in (per_bucket[index], total, owner):
            figures.add(source, status, overdue, count, done)
    return TaskReport(period, buckets, per_bucket, total, dict(sorted(by_owner.items())))


def _created_in(period: Period) -> tuple[Any, ...]:
    return (FollowUpTask.created_at >= period.start, FollowUpTask.created_at < period.end)


async def _groups(
    session: AsyncSession,
    dialect: str,
    period: Period,
    buckets: list[Bucket],
    owners: Sequence[str] | None,
    moment: _Moment,
) -> list[Group]:
    """The tasks with a history, counted by the database per quarter hour (or hour), source,
    status, owner and overdue or not, each as its last history row before the cutoff says.

    The tasks are read by a range over their ``created_at`` index and their history by a
    range over its ``at`` index, joined once; the last row per task is picked by a window
    function (SQLite and PostgreSQL alike). A finished task's last row is when it was
    finished."""
    task, change = FollowUpTask, TaskStatusChange
    ranked = (
        select(
            change.status,
            change.owner_user_id,
            change.at,
            task.created_at,
            task.source_kind,
            task.due_at,
            task.due_date,
            func.row_number()
            .over(partition_by=change.task_id, order_by=(change.at.desc(), change.id.desc()))
            .label("rank"),
        )
        .join(task, task.id == change.task_id)
        # A task's rows start when it was created: the range lets the database read them
        # by their time index instead of scanning every task's history.
        .where(*_created_in(period), change.at >= period.start)
    )
    if moment.cutoff is not None:
        ranked = ranked.where(change.at < moment.cutoff)
    rows = ranked.subquery()
    last = rows.c
    overdue = and_(
        last.status.in_(OPEN_STATUSES),
        or_(
            last.due_at < moment.at,
            and_(last.due_at.is_(None), last.due_date < moment.today),
        ),
    )
    took = epoch(last.at, dialect) - epoch(last.created_at, dialect)
    done = case((last.status == FollowUpStatus.DONE, took))
    unit = group_unit(period, buckets)
    keys = (
        quarters_since(last.created_at, period, dialect, unit),
        last.source_kind,
        last.status,
        User.username,
        case((overdue, 1), else_=0),
    )
    query = (
        select(*keys, func.count(), func.coalesce(func.sum(done), 0.0))
        .select_from(rows)
        .outerjoin(User, User.id == last.owner_user_id)
        .where(last.rank == 1)
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


async def _groups_without_history(
    session: AsyncSession,
    period: Period,
    buckets: list[Bucket],
    owners: Sequence[str] | None,
    moment: _Moment,
) -> list[Group]:
    """Tasks with no history row (written straight into the table, as test data and old
    rows before the backfill were), each read from its own timestamps as the backfill
    reads them; usually none."""
    task, change = FollowUpTask, TaskStatusChange
    has_history = select(change.id).where(change.task_id == task.id).exists()
    rows = (
        await session.execute(select(*_COLUMNS).where(*_created_in(period), ~has_history))
    ).all()
    if not rows:
        return []
    names = dict((await session.execute(select(User.id, User.username))).all())
    wanted = set(owners or ())
    result: list[Group] = []
    for row in rows:
        index = bucket_index(buckets, row.created_at)
        state = task_state(task_story(row), moment.cutoff)
        if index is None or state is None:
            continue
        username = names.get(state.owner_user_id) if state.owner_user_id else None
        if wanted and username not in wanted:
            continue
        overdue = state.status in OPEN_STATUSES and _past_due(row, moment.at, moment.today)
        done = 0.0
        if state.status is FollowUpStatus.DONE and state.finished_at is not None:
            done = (state.finished_at - row.created_at).total_seconds()
        result.append((index, row.source_kind, state.status, username, overdue, 1, done))
    return result


def _past_due(task: Any, at: datetime, today: date) -> bool:
    if task.due_at is not None:
        return bool(task.due_at < at)
    return task.due_date is not None and task.due_date < today
