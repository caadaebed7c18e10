"""Status history of complaints and tasks: written where statuses change, read by the reports.

Every service that changes a task's or a complaint's status adds a row here in the same
transaction (``record_task_status``, ``record_complaint_status``). The reports fold a case's
rows up to the end of the period into what the case was then (``task_state``,
``complaint_state``). A case with no rows (made before the history was kept and not
backfilled, or written straight into the tables) is read from its own timestamps, exactly as
migration ``0019_case_status_history`` backfills them (``task_story``, ``complaint_story``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy.ext.asyncio import AsyncSession

from hcrm_core.models import (
    Complaint,
    ComplaintSeverity,
    ComplaintStatus,
    ComplaintStatusChange,
    FollowUpStatus,
    FollowUpTask,
    TaskStatusChange,
)

_FINISHED = (FollowUpStatus.DONE, FollowUpStatus.CANNOT_REACH, FollowUpStatus.CANCELLED)


def record_task_status(session: AsyncSession, task: FollowUpTask, at: datetime, actor: str) -> None:
    """Add the task's status and owner as they are now (the task has its id: flushed)."""
    session.add(
        TaskStatusChange(
            task_id=task.id,
            status=task.status,
            owner_user_id=task.owner_user_id or task.claimed_by_user_id,
            at=at,
            actor=actor[:80],
        )
    )


def record_task_statuses(
    session: AsyncSession,
    tasks: Iterable[tuple[int, int | None]],
    status: FollowUpStatus,
    at: datetime,
    actor: str,
) -> None:
    """The same change for many tasks (``(task id, owner id)`` pairs), as a bulk UPDATE
    made it."""
    session.add_all(
        TaskStatusChange(
            task_id=task_id, status=status, owner_user_id=owner, at=at, actor=actor[:80]
        )
        for task_id, owner in tasks
    )


def record_complaint_status(
    session: AsyncSession, complaint: Complaint, at: datetime, actor: str
) -> None:
    """Add the complaint's status, severity, category and due moments as they are now (it
    has its id)."""
    session.add(
        ComplaintStatusChange(
            complaint_id=complaint.id,
            status=complaint.status,
            severity=complaint.severity,
            category=complaint.category,
            acknowledge_due_at=complaint.acknowledge_due_at,
            respond_due_at=complaint.respond_due_at,
            at=at,
            actor=actor[:80],
        )
    )


def as_of(period_end: datetime, now: datetime) -> tuple[datetime, datetime | None]:
    """The moment a report describes (the end of its period, or now for a period not over)
    and the cutoff of the history it reads (rows before the end; None: every row)."""
    if period_end <= now:
        return period_end, period_end
    return now, None


# -- tasks ---------------------------------------------------------------------------------


class TaskStep(NamedTuple):
    status: FollowUpStatus
    owner_user_id: int | None
    at: datetime


@dataclass(frozen=True, slots=True)
class TaskState:
    status: FollowUpStatus
    owner_user_id: int | None
    # When it was finished (done, could not reach, cancelled); None while open.
    finished_at: datetime | None


def task_story(task: Any) -> list[TaskStep]:
    """A task's steps from its own columns (created, claimed, finished), for a task with no
    history rows: what the backfill of migration 0019 writes."""
    owner = task.owner_user_id or task.claimed_by_user_id
    steps = [TaskStep(FollowUpStatus.OPEN, owner, task.created_at)]
    claimed, closed = task.claimed_at, task.closed_at
    if task.status is FollowUpStatus.IN_PROGRESS or (
        claimed is not None
        and task.status is not FollowUpStatus.OPEN
        and (closed is None or claimed <= closed)
    ):
        at = claimed or task.updated_at or task.created_at
        steps.append(TaskStep(FollowUpStatus.IN_PROGRESS, owner, at))
    if task.status in _FINISHED:
        steps.append(TaskStep(task.status, owner, closed or task.updated_at or task.created_at))
    return steps


def task_state(steps: Sequence[TaskStep], cutoff: datetime | None) -> TaskState | None:
    """What the task was just before ``cutoff`` (None: after its last step); None when it
    did not exist yet. ``steps`` in the order they happened."""
    state = None
    for step in steps:
        if cutoff is not None and step.at >= cutoff:
            break
        finished = step.at if step.status in _FINISHED else None
        state = TaskState(step.status, step.owner_user_id, finished)
    return state


# -- complaints ----------------------------------------------------------------------------


class ComplaintStep(NamedTuple):
    status: ComplaintStatus
    severity: ComplaintSeverity
    category: str
    acknowledge_due_at: datetime | None
    respond_due_at: datetime | None
    at: datetime


@dataclass(frozen=True, slots=True)
class ComplaintState:
    status: ComplaintStatus
    severity: ComplaintSeverity
    category: str
    acknowledge_due_at: datetime | None
    respond_due_at: datetime | None
    # Its last response since it was last reopened (else its closing), as the complaint's
    # own ``responded_at or resolved_at`` reads; None when not answered.
    answered_at: datetime | None
    closed_at: datetime | None


def complaint_story(complaint: Any) -> list[ComplaintStep]:
    """A complaint's steps from its own columns, for one with no history rows: what the
    backfill of migration 0019 writes (its severity, category and due moments as they are
    now, the only ones known)."""
    ack, respond = complaint.acknowledge_due_at, complaint.respond_due_at
    known = (complaint.severity, complaint.category, ack, respond)
    acknowledged, responded = complaint.acknowledged_at, complaint.responded_at
    resolved = complaint.resolved_at
    steps = [ComplaintStep(ComplaintStatus.RECEIVED, *known, complaint.created_at)]
    received = complaint.status is ComplaintStatus.RECEIVED
    if (
        acknowledged is not None
        and not received
        and (responded is None or acknowledged < responded)
    ):
        steps.append(ComplaintStep(ComplaintStatus.INVESTIGATING, *known, acknowledged))
    if responded is not None:
        steps.append(ComplaintStep(ComplaintStatus.RESPONDED, *known, responded))
    if resolved is not None:
        steps.append(ComplaintStep(ComplaintStatus.CLOSED, *known, resolved))
    if steps[-1].status is not complaint.status:
        last = complaint.updated_at or resolved or responded or acknowledged or complaint.created_at
        steps.append(ComplaintStep(complaint.status, *known, last))
    return steps


def complaint_state(
    steps: Sequence[ComplaintStep], cutoff: datetime | None
) -> ComplaintState | None:
    """What the complaint was just before ``cutoff`` (None: after its last step); None when
    it was not received yet. ``steps`` in the order they happened."""
    state = None
    answered: datetime | None = None
    closed: datetime | None = None
    for step in steps:
        if cutoff is not None and step.at >= cutoff:
            break
        if step.status is ComplaintStatus.RESPONDED:
            answered = step.at
        elif step.status is ComplaintStatus.CLOSED:
            closed = step.at
            answered = answered or step.at
        elif step.status is ComplaintStatus.REOPENED:
            answered = closed = None
        state = ComplaintState(
            step.status,
            step.severity,
            step.category,
            step.acknowledge_due_at,
            step.respond_due_at,
            answered,
            closed if step.status is ComplaintStatus.CLOSED else None,
        )
    return state
