"""Follow-up task counts for the wallboard: open, and open past their due time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import and_, func, or_, select

from hcrm_core.db import Database
from hcrm_core.models import FollowUpStatus, FollowUpTask

OPEN_STATUSES = (FollowUpStatus.OPEN, FollowUpStatus.IN_PROGRESS)


@dataclass(frozen=True, slots=True)
class TaskCounts:
    open: int
    overdue: int


async def task_counts(database: Database, now: datetime, today: date) -> TaskCounts:
    """Open tasks (open or being worked), and those of them past due: a due moment
    (``due_at``) before ``now``, or without one a due day (``due_date``) before ``today``."""
    is_open = FollowUpTask.status.in_(OPEN_STATUSES)
    overdue = or_(
        FollowUpTask.due_at < now,
        and_(FollowUpTask.due_at.is_(None), FollowUpTask.due_date < today),
    )
    async with database.session() as session:
        total = await session.scalar(select(func.count()).where(is_open))
        late = await session.scalar(select(func.count()).where(is_open, overdue))
    return TaskCounts(int(total or 0), int(late or 0))
