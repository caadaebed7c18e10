"""The task inbox: work for a person, from whatever created it, worked to an outcome.

One table (``followup_tasks``) holds every task: survey escalations, after-hours voicemails
and callback requests, missed callbacks, failed campaign attempts and tasks made by hand.
``create_task`` is the one way in for other services (it joins the caller's transaction).

Status: open -> in_progress (claimed) -> done or cannot_reach; in_progress -> open (released);
a supervisor cancels an open task or reopens a finished one. A claim is one conditional UPDATE
(``status = 'open'`` and nobody else's), so of two agents claiming at once exactly one wins,
on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hcrm_core.actors import Actor
from hcrm_core.db import Database
from hcrm_core.errors import (
    Conflict,
    DomainError,
    NotFound,
    PatientInactive,
    PatientNotFound,
    ValidationFailed,
)
from hcrm_core.models import (
    AuditAction,
    FollowUpStatus,
    FollowUpTask,
    Patient,
    TaskSource,
    User,
    utcnow,
)
from hcrm_core.services.audit import add_audit
from hcrm_core.services.case_history import record_task_status

MAX_REASON = 200
MAX_NOTES = 4000
MAX_OUTCOME = 2000
MAX_SOURCE_REF = 120
PRIORITIES = range(1, 6)  # 1 = most urgent
ACTIVE = (FollowUpStatus.OPEN, FollowUpStatus.IN_PROGRESS)
FINISHED = (FollowUpStatus.DONE, FollowUpStatus.CANNOT_REACH, FollowUpStatus.CANCELLED)


class TaskNotFound(NotFound):
    code = "task_not_found"


class TaskTaken(Conflict):
    """Someone else claimed the task first (or it is no longer open)."""

    code = "task_taken"


class TaskChanged(Conflict):
    """The task changed since it was read (its version moved on)."""

    code = "task_changed"


class TaskForbidden(DomainError):
    """Only the task's owner or a supervisor may do this."""

    code = "task_forbidden"
    http_status = 403


def _source(value: TaskSource | str) -> TaskSource:
    try:
        return TaskSource(value)
    except ValueError:
        names = ", ".join(kind.value for kind in TaskSource)
        raise ValidationFailed("source_kind", f"choose one of: {names}") from None


def _text(field: str, value: str | None, limit: int, *, required: bool = False) -> str | None:
    cleaned = (value or "").strip()
    if not cleaned:
        if required:
            raise ValidationFailed(field, "must not be empty")
        return None
    if len(cleaned) > limit:
        raise ValidationFailed(field, f"at most {limit} characters")
    return cleaned


def _priority(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value not in PRIORITIES:
        raise ValidationFailed("priority", "a whole number from 1 (most urgent) to 5")
    return value


async def create_task(
    session: AsyncSession,
    *,
    patient_id: int,
    reason: str,
    source_kind: TaskSource | str,
    source_ref: str | None,
    priority: int,
    due_at: datetime | None,
    queue: str | None = None,
    actor: Actor,
) -> FollowUpTask:
    """Add a task to the caller's transaction (flushed, so it has its id) and audit it.

    Refuses (``ValidationFailed`` with the field) an empty reason, an unknown source kind, a
    priority outside 1..5, a naive ``due_at``; ``PatientNotFound`` for a patient that does not
    exist, ``PatientInactive`` for one that was erased, merged away or deactivated."""
    kind = _source(source_kind)
    text = _text("reason", reason, MAX_REASON, required=True)
    level = _priority(priority)
    if due_at is not None and due_at.tzinfo is None:
        raise ValidationFailed("due_at", "give a time with its zone")
    ref = (source_ref or "").strip()[:MAX_SOURCE_REF] or None
    patient = await session.get(Patient, patient_id)
    if patient is None:
        raise PatientNotFound(f"no patient with id {patient_id}")
    if not patient.active:
        raise PatientInactive(f"patient {patient_id} is no longer active (erased or merged)")
    now = utcnow()
    task = FollowUpTask(
        patient_id=patient_id,
        reason=text,
        priority=level,
        due_at=due_at,
        due_date=None,
        status=FollowUpStatus.OPEN,
        source_kind=kind,
        source_ref=ref,
        queue=(queue or "").strip()[:64] or None,
        created_by=actor.label[:80],
        created_at=now,
        updated_at=now,
        version=1,
    )
    session.add(task)
    await session.flush()
    record_task_status(session, task, now, actor.label)
    add_audit(
        session,
        actor,
        AuditAction.CREATE,
        "task",
        task.id,
        patient_id=patient_id,
        detail={
            "source_kind": kind.value,
            "source_ref": ref,
            "priority": level,
            "queue": task.queue,
            "due_at": due_at.isoformat() if due_at else None,
        },
    )
    return task


@dataclass(frozen=True, slots=True)
class TaskFilter:
    """Which tasks a list shows. ``mine``: owned by ``viewer_id``; ``queue``: one queue's;
    ``unowned``: nobody's (the queue view); ``overdue``: past due and still open
    or in progress."""

    viewer_id: int | None = None
    mine: bool = False
    queue: str | None = None
    unowned: bool = False
    overdue: bool = False
    statuses: tuple[FollowUpStatus, ...] = ACTIVE
    patient_id: int | None = None
    owner_id: int | None = None
    limit: int = 200


@dataclass(frozen=True, slots=True)
class TaskRow:
    task: FollowUpTask
    patient_name: str
    patient_active: bool
    owner_name: str | None
    overdue: bool


@dataclass(frozen=True, slots=True)
class TaskCounts:
    open: int
    in_progress: int
    overdue: int


def _overdue_clause(now: datetime, today: date) -> Any:
    return and_(
        FollowUpTask.status.in_(ACTIVE),
        or_(
            and_(FollowUpTask.due_at.is_not(None), FollowUpTask.due_at < now),
            and_(FollowUpTask.due_at.is_(None), FollowUpTask.due_date < today),
        ),
    )


class TaskService:
    """The inbox's use cases, one transaction each, every change audited."""

    def __init__(
        self,
        database: Database,
        timezone: ZoneInfo,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._db = database
        self._tz = timezone
        self._clock = clock

    def _today(self, now: datetime) -> date:
        return now.astimezone(self._tz).date()

    def is_overdue(self, task: FollowUpTask, now: datetime | None = None) -> bool:
        now = now or self._clock()
        if task.status not in ACTIVE:
            return False
        if task.due_at is not None:
            return task.due_at < now
        return task.due_date is not None and task.due_date < self._today(now)

    # -- reading ---------------------------------------------------------------------------

    def _query(self, flt: TaskFilter, now: datetime) -> Select[Any]:
        owner = User.__table__.alias("owner")
        query = (
            select(FollowUpTask, Patient.given_name, Patient.family_name, Patient.active)
            .add_columns(owner.c.display_name)
            .join(Patient, Patient.id == FollowUpTask.patient_id)
            .outerjoin(owner, owner.c.id == FollowUpTask.owner_user_id)
        )
        if flt.statuses:
            query = query.where(FollowUpTask.status.in_(flt.statuses))
        if flt.mine:
            query = query.where(FollowUpTask.owner_user_id == flt.viewer_id)
        if flt.owner_id is not None:
            query = query.where(FollowUpTask.owner_user_id == flt.owner_id)
        if flt.queue:
            query = query.where(FollowUpTask.queue == flt.queue)
        if flt.unowned:
            query = query.where(FollowUpTask.owner_user_id.is_(None))
        if flt.patient_id is not None:
            query = query.where(FollowUpTask.patient_id == flt.patient_id)
        if flt.overdue:
            query = query.where(_overdue_clause(now, self._today(now)))
        return query.order_by(
            FollowUpTask.priority,
            FollowUpTask.due_at.is_(None),
            FollowUpTask.due_at,
            FollowUpTask.due_date.is_(None),
            FollowUpTask.due_date,
            FollowUpTask.id,
        ).limit(max(1, min(flt.limit, 500)))

    async def list(self, flt: TaskFilter) -> list[TaskRow]:
        now = self._clock()
        async with self._db.session() as session:
            rows = (await session.execute(self._query(flt, now))).all()
        return [
            TaskRow(
                task=task,
                patient_name=f"{given} {family}".strip(),
                patient_active=bool(active),
                owner_name=owner,
                overdue=self.is_overdue(task, now),
            )
            for task, given, family, active, owner in rows
        ]

    async def get(self, task_id: int) -> TaskRow:
        rows = await self._rows_by_id(task_id)
        if not rows:
            raise TaskNotFound(f"no task with id {task_id}")
        return rows[0]

    async def _rows_by_id(self, task_id: int) -> builtins.list[TaskRow]:
        now = self._clock()
        flt = TaskFilter(statuses=())
        async with self._db.session() as session:
            query = self._query(flt, now).where(FollowUpTask.id == task_id)
            rows = (await session.execute(query)).all()
        return [
            TaskRow(task, f"{g} {f}".strip(), bool(a), o, self.is_overdue(task, now))
            for task, g, f, a, o in rows
        ]

    async def counts(self) -> TaskCounts:
        """Open, in-progress and overdue tasks (the board's tiles)."""
        now = self._clock()
        async with self._db.session() as session:
            by_status = dict(
                (
                    await session.execute(
                        select(FollowUpTask.status, func.count())
                        .where(FollowUpTask.status.in_(ACTIVE))
                        .group_by(FollowUpTask.status)
                    )
                ).all()
            )
            overdue = await session.scalar(
                select(func.count())
                .select_from(FollowUpTask)
                .where(_overdue_clause(now, self._today(now)))
            )
        return TaskCounts(
            open=int(by_status.get(FollowUpStatus.OPEN, 0)),
            in_progress=int(by_status.get(FollowUpStatus.IN_PROGRESS, 0)),
            overdue=int(overdue or 0),
        )

    # -- changing --------------------------------------------------------------------------

    async def create(
        self,
        actor: Actor,
        *,
        patient_id: int,
        reason: str,
        priority: int = 3,
        due_at: datetime | None = None,
        queue: str | None = None,
        source_kind: TaskSource | str = TaskSource.MANUAL,
        source_ref: str | None = None,
        notes: str | None = None,
    ) -> FollowUpTask:
        """A task made by hand (from a patient card or the inbox)."""
        cleaned_notes = _text("notes", notes, MAX_NOTES)
        async with self._db.transaction() as session:
            task = await create_task(
                session,
                patient_id=patient_id,
                reason=reason,
                source_kind=source_kind,
                source_ref=source_ref,
                priority=priority,
                due_at=due_at,
                queue=queue,
                actor=actor,
            )
            task.notes = cleaned_notes
        return task

    async def claim(self, task_id: int, actor: Actor) -> FollowUpTask:
        """Take an open task (unowned, or already assigned to the actor) and start it.

        One conditional UPDATE: when two agents claim at once, exactly one row changes and
        the other gets ``TaskTaken``."""
        if actor.user_id is None:
            raise ValidationFailed("user", "only a signed-in user can claim a task")
        now = self._clock()
        async with self._db.transaction() as session:
            result = await session.execute(
                update(FollowUpTask)
                .where(
                    FollowUpTask.id == task_id,
                    FollowUpTask.status == FollowUpStatus.OPEN,
                    or_(
                        FollowUpTask.owner_user_id.is_(None),
                        FollowUpTask.owner_user_id == actor.user_id,
                    ),
                )
                .values(
                    status=FollowUpStatus.IN_PROGRESS,
                    owner_user_id=actor.user_id,
                    claimed_by_user_id=actor.user_id,
                    claimed_at=now,
                    updated_at=now,
                    version=FollowUpTask.version + 1,
                )
                .execution_options(synchronize_session=False)
            )
            if result.rowcount != 1:  # type: ignore[attr-defined]
                task = await session.get(FollowUpTask, task_id)
                if task is None:
                    raise TaskNotFound(f"no task with id {task_id}")
                raise TaskTaken(f"task {task_id} was taken by someone else or is not open")
            task = await session.get(FollowUpTask, task_id, populate_existing=True)
            assert task is not None
            await self._check_patient(session, task)
            record_task_status(session, task, now, actor.label)
            add_audit(
                session,
                actor,
                AuditAction.UPDATE,
                "task",
                task_id,
                patient_id=task.patient_id,
                detail={"claimed": True, "status": FollowUpStatus.IN_PROGRESS.value},
            )
        return task

    async def assign(
        self, task_id: int, actor: Actor, *, user_id: int | None, version: int | None = None
    ) -> FollowUpTask:
        """A supervisor gives a task to an agent (``None``: back to its queue). The task is
        open again for its new owner, who claims it to start."""
        async with self._db.transaction() as session:
            task = await self._load(session, task_id, version)
            if task.status in FINISHED:
                raise Conflict(f"task {task_id} is finished; reopen it first")
            if user_id is not None:
                user = await session.get(User, user_id)
                if user is None or not user.active:
                    raise ValidationFailed("user_id", "no active user with this id")
            before = task.owner_user_id
            now = self._clock()
            task.owner_user_id = user_id
            task.status = FollowUpStatus.OPEN
            task.claimed_by_user_id = None
            task.claimed_at = None
            self._touch(task, now)
            record_task_status(session, task, now, actor.label)
            add_audit(
                session,
                actor,
                AuditAction.UPDATE,
                "task",
                task_id,
                patient_id=task.patient_id,
                detail={"assigned_to": user_id, "was": before},
            )
        return task

    async def update(
        self,
        task_id: int,
        actor: Actor,
        *,
        supervisor: bool,
        status: FollowUpStatus | str | None = None,
        notes: str | None = None,
        outcome: str | None = None,
        priority: int | None = None,
        version: int | None = None,
    ) -> FollowUpTask:
        """Change a task's status, notes, outcome (priority: supervisors). Owners and
        supervisors only; ``version`` (when given) must match the stored one."""
        new_status = _status(status) if status is not None else None
        cleaned_notes = _text("notes", notes, MAX_NOTES) if notes is not None else None
        cleaned_outcome = _text("outcome", outcome, MAX_OUTCOME) if outcome is not None else None
        level = _priority(priority) if priority is not None else None
        async with self._db.transaction() as session:
            task = await self._load(session, task_id, version)
            if not supervisor and task.owner_user_id != actor.user_id:
                raise TaskForbidden("claim the task first: it is not yours")
            if level is not None and not supervisor:
                raise TaskForbidden("only a supervisor changes a task's priority")
            changes: dict[str, Any] = {}
            now = self._clock()
            if new_status is not None and new_status is not task.status:
                _check_transition(task, new_status, supervisor, cleaned_outcome)
                changes["status"] = [task.status.value, new_status.value]
                self._apply_status(task, new_status, now)
            if notes is not None and cleaned_notes != task.notes:
                task.notes = cleaned_notes
                changes["notes"] = True
            if outcome is not None and cleaned_outcome != task.outcome:
                task.outcome = cleaned_outcome
                changes["outcome"] = cleaned_outcome
            if level is not None and level != task.priority:
                changes["priority"] = [task.priority, level]
                task.priority = level
            if not changes:
                return task
            self._touch(task, now)
            if "status" in changes:
                record_task_status(session, task, now, actor.label)
            add_audit(
                session,
                actor,
                AuditAction.UPDATE,
                "task",
                task_id,
                patient_id=task.patient_id,
                detail=changes,
            )
        return task

    async def record_dial(self, task_id: int, actor: Actor, *, call_ref: str) -> FollowUpTask:
        """Link a click-to-dial call to the task (its channel id becomes the call's Linkedid)."""
        async with self._db.transaction() as session:
            task = await self._load(session, task_id, None)
            task.last_call_ref = call_ref[:64]
            self._touch(task, self._clock())
            add_audit(
                session,
                actor,
                AuditAction.UPDATE,
                "task",
                task_id,
                patient_id=task.patient_id,
                detail={"dialled": call_ref[:64]},
            )
        return task

    async def check_dialable(self, task_id: int, actor: Actor, *, supervisor: bool) -> TaskRow:
        """The task a click-to-dial is for: the actor's own, in progress, patient active."""
        row = await self.get(task_id)
        if not supervisor and row.task.owner_user_id != actor.user_id:
            raise TaskForbidden("claim the task first: it is not yours")
        if not row.patient_active:
            raise PatientInactive("the patient is no longer active (erased or merged)")
        if row.task.status in FINISHED:
            raise Conflict(f"task {task_id} is finished")
        return row

    # -- helpers ---------------------------------------------------------------------------

    async def _load(self, session: AsyncSession, task_id: int, version: int | None) -> FollowUpTask:
        task = await session.get(FollowUpTask, task_id, with_for_update=True)
        if task is None:
            raise TaskNotFound(f"no task with id {task_id}")
        if version is not None and version != task.version:
            raise TaskChanged(f"task {task_id} changed since you read it; reload it")
        return task

    @staticmethod
    async def _check_patient(session: AsyncSession, task: FollowUpTask) -> None:
        patient = await session.get(Patient, task.patient_id)
        if patient is None or not patient.active:
            raise PatientInactive(
                f"patient {task.patient_id} is no longer active (erased or merged)"
            )

    @staticmethod
    def _touch(task: FollowUpTask, now: datetime) -> None:
        task.updated_at = now
        task.version = (task.version or 0) + 1

    @staticmethod
    def _apply_status(task: FollowUpTask, status: FollowUpStatus, now: datetime) -> None:
        task.status = status
        if status in FINISHED:
            task.closed_at = now
        else:
            task.closed_at = None
        if status is FollowUpStatus.OPEN:
            task.claimed_by_user_id = None
            task.claimed_at = None
        if status is FollowUpStatus.IN_PROGRESS and task.claimed_at is None:
            task.claimed_at = now
            task.claimed_by_user_id = task.owner_user_id


def _status(value: FollowUpStatus | str) -> FollowUpStatus:
    try:
        return FollowUpStatus(value)
    except ValueError:
        names = ", ".join(status.value for status in FollowUpStatus)
        raise ValidationFailed("status", f"choose one of: {names}") from None


# Which status may follow which; supervisors also cancel open tasks and reopen finished ones.
_AGENT_MOVES = {
    FollowUpStatus.OPEN: {FollowUpStatus.IN_PROGRESS},
    FollowUpStatus.IN_PROGRESS: {
        FollowUpStatus.OPEN,
        FollowUpStatus.DONE,
        FollowUpStatus.CANNOT_REACH,
    },
}
_SUPERVISOR_MOVES = {
    FollowUpStatus.OPEN: {FollowUpStatus.CANCELLED},
    FollowUpStatus.IN_PROGRESS: {FollowUpStatus.CANCELLED},
    FollowUpStatus.DONE: {FollowUpStatus.OPEN},
    FollowUpStatus.CANNOT_REACH: {FollowUpStatus.OPEN},
    FollowUpStatus.CANCELLED: {FollowUpStatus.OPEN},
}


def _check_transition(
    task: FollowUpTask, new: FollowUpStatus, supervisor: bool, outcome: str | None
) -> None:
    allowed = set(_AGENT_MOVES.get(task.status, set()))
    if supervisor:
        allowed |= _SUPERVISOR_MOVES.get(task.status, set())
    if new not in allowed:
        raise ValidationFailed(
            "status", f"a task that is {task.status.value} cannot become {new.value}"
        )
    if new is FollowUpStatus.DONE and not (outcome or task.outcome):
        raise ValidationFailed("outcome", "say what was done before closing the task")
