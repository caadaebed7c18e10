"""Callbacks that keep the caller's place: stored, placed, dialled, retried, handed to a person.

The telephony (callcenter/callbacks/) calls these one step at a time, each a transaction that
commits before Asterisk is asked to do anything, as the campaign dialer does:

- :meth:`CallbackService.request` stores what the caller confirmed, with the time they joined
  the queue (the place they hold) and their queue priority;
- :meth:`claim_placement` moves a due callback to ``placed`` and numbers the placement: its
  channel id is written before the placeholder call is originated, so it is never placed twice;
- :meth:`release` puts back a placement that never reached an agent (refused, or the queue
  emptied), :meth:`mark_dialling` records that an agent took it and the patient's phone rings;
- :meth:`finish` settles a dial: answered is done; no answer, busy or failure is tried again
  ``retry_minutes`` later until ``max_attempts``, then a task (``missed_callback``) is created
  in the same transaction through :func:`hcrm_core.services.tasks.create_task`.

Every change is conditional on the placement it is about, so a late or repeated event (an AMI
event after a reconcile settled the same placement) changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hcrm_core.actors import Actor
from hcrm_core.db import Database
from hcrm_core.errors import PatientInactive, PatientNotFound, ValidationFailed
from hcrm_core.models import (
    AuditAction,
    CallbackStatus,
    QueueCallback,
    TaskSource,
    utcnow,
)
from hcrm_core.phones import is_e164
from hcrm_core.services.audit import add_audit
from hcrm_core.services.leadership import Fence
from hcrm_core.services.tasks import create_task

_LOG = logging.getLogger(__name__)

OPEN: Final = (CallbackStatus.WAITING, CallbackStatus.PLACED, CallbackStatus.DIALLING)
IN_ASTERISK: Final = (CallbackStatus.PLACED, CallbackStatus.DIALLING)
ANSWERED: Final = "answered"
TASK_REASON: Final = "Callback requested from the queue: the patient did not answer"


@dataclass(frozen=True, slots=True)
class CallbackRules:
    """How often a patient who does not answer is tried, and how long apart."""

    max_attempts: int = 3
    retry_minutes: int = 10
    task_priority: int = 2


@dataclass(frozen=True, slots=True)
class Placement:
    """A callback's current placement, as the telephony needs it."""

    callback_id: int
    placement: int
    queue: str
    phone_e164: str
    arrived_at: datetime
    priority: int
    patient_id: int | None
    status: CallbackStatus


def _placement(row: QueueCallback) -> Placement:
    return Placement(
        row.id,
        row.placement,
        row.queue,
        row.phone_e164,
        row.arrived_at,
        row.priority,
        row.patient_id,
        row.status,
    )


class CallbackService:
    def __init__(
        self,
        database: Database,
        rules: CallbackRules | None = None,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.database = database
        self.rules = rules or CallbackRules()
        self.clock = clock

    async def request(
        self,
        queue: str,
        phone_e164: str,
        *,
        arrived_at: datetime,
        priority: int = 0,
        position: int | None = None,
        patient_id: int | None = None,
        linkedid: str | None = None,
    ) -> QueueCallback:
        """Store a confirmed callback, due at once; the number must already be E.164."""
        if not is_e164(phone_e164):
            raise ValidationFailed("phone", "not a dialable number (E.164)")
        if arrived_at.tzinfo is None:
            raise ValidationFailed("arrived_at", "give a time with its zone")
        now = self.clock()
        async with self.database.transaction() as session:
            row = QueueCallback(
                queue=queue,
                patient_id=patient_id,
                phone_e164=phone_e164,
                arrived_at=min(arrived_at, now),
                priority=max(0, min(priority, 100)),
                queue_position=position,
                status=CallbackStatus.WAITING,
                placement=0,
                dial_attempts=0,
                due_at=now,
                linkedid=linkedid,
                created_at=now,
            )
            session.add(row)
            await session.flush()
            add_audit(
                session,
                Actor.ivr(linkedid),
                AuditAction.CREATE,
                "queue_callback",
                row.id,
                patient_id=patient_id,
                detail={"queue": queue, "position": position},
            )
        _LOG.info("callback=%s queue=%s stored (linkedid=%s)", row.id, queue, linkedid)
        return row

    async def get(self, callback_id: int) -> QueueCallback | None:
        async with self.database.session() as session:
            return await session.get(QueueCallback, callback_id)

    async def due(self, *, limit: int = 50) -> list[Placement]:
        """Waiting callbacks whose time has come, the earliest arrivals first."""
        async with self.database.session() as session:
            rows = await session.scalars(
                select(QueueCallback)
                .where(
                    QueueCallback.status == CallbackStatus.WAITING,
                    QueueCallback.due_at <= self.clock(),
                )
                .order_by(QueueCallback.arrived_at, QueueCallback.id)
                .limit(limit)
            )
            return [_placement(row) for row in rows]

    async def in_asterisk(self) -> list[Placement]:
        """Placements that may be live in Asterisk (for the reconcile after a restart)."""
        async with self.database.session() as session:
            rows = await session.scalars(
                select(QueueCallback)
                .where(QueueCallback.status.in_(IN_ASTERISK))
                .order_by(QueueCallback.id)
            )
            return [_placement(row) for row in rows]

    async def counts(self) -> dict[str, int]:
        """Open callbacks per status."""
        async with self.database.session() as session:
            rows = await session.execute(
                select(QueueCallback.status, func.count())
                .where(QueueCallback.status.in_(OPEN))
                .group_by(QueueCallback.status)
            )
            return {status.value: int(count) for status, count in rows}

    async def claim_placement(
        self, callback_id: int, *, fence: Fence | None = None
    ) -> Placement | None:
        """waiting -> placed with the next placement number, committed; None if not waiting.

        Claimed once (the row locked, claimed only while ``waiting``); with a ``fence``,
        raises :class:`~hcrm_core.services.leadership.Fenced` when this process no longer
        leads, in the same transaction."""
        async with self.database.transaction() as session:
            if fence is not None:
                await fence.check(session)
            row = await self._locked(session, callback_id)
            if row is None or row.status is not CallbackStatus.WAITING:
                return None
            row.status = CallbackStatus.PLACED
            row.placement += 1
            return _placement(row)

    async def release(self, callback_id: int, placement: int, *, retry_seconds: float) -> bool:
        """A placement that reached no agent: waiting again, placed anew after a pause."""
        async with self.database.transaction() as session:
            row = await self._locked(session, callback_id)
            if row is None or row.placement != placement or row.status is not CallbackStatus.PLACED:
                return False
            row.status = CallbackStatus.WAITING
            row.due_at = self.clock() + timedelta(seconds=retry_seconds)
            return True

    async def mark_dialling(self, callback_id: int, placement: int) -> bool:
        """An agent took the placement; the patient's phone is being rung."""
        async with self.database.transaction() as session:
            row = await self._locked(session, callback_id)
            if row is None or row.placement != placement or row.status is not CallbackStatus.PLACED:
                return False
            row.status = CallbackStatus.DIALLING
            return True

    async def finish(self, callback_id: int, placement: int, outcome: str) -> CallbackStatus | None:
        """Settle the dial of one placement: ``answered``, else a retry or, at the last, a task.

        Returns the callback's new status, or None when this placement was already settled."""
        now = self.clock()
        async with self.database.transaction() as session:
            row = await self._locked(session, callback_id)
            if row is None or row.placement != placement or row.status not in IN_ASTERISK:
                return None
            row.dial_attempts += 1
            row.outcome_detail = outcome[:120]
            if outcome == ANSWERED:
                row.status, row.ended_at = CallbackStatus.DONE, now
            elif row.dial_attempts < self.rules.max_attempts:
                row.status = CallbackStatus.WAITING
                row.due_at = now + timedelta(minutes=self.rules.retry_minutes)
            else:
                row.status, row.ended_at = CallbackStatus.FAILED, now
                await self._hand_to_person(session, row)
            status = row.status
        _LOG.info(
            "callback=%s placement=%s %s -> %s", callback_id, placement, outcome, status.value
        )
        return status

    async def _hand_to_person(self, session: AsyncSession, row: QueueCallback) -> None:
        if row.patient_id is None:
            row.outcome_detail = f"{row.outcome_detail}; unknown caller"[:120]
            _LOG.warning("callback=%s failed for a caller not on file: no task", row.id)
            return
        try:
            task = await create_task(
                session,
                patient_id=row.patient_id,
                reason=TASK_REASON,
                source_kind=TaskSource.MISSED_CALLBACK,
                source_ref=row.linkedid or f"callback:{row.id}",
                priority=self.rules.task_priority,
                due_at=self.clock(),
                queue=row.queue,
                actor=Actor.system(),
            )
        except (PatientNotFound, PatientInactive) as refused:
            row.outcome_detail = f"{row.outcome_detail}; {refused.code}"[:120]
            _LOG.warning("callback=%s failed; no task: %s", row.id, refused)
            return
        row.task_id = task.id

    async def _locked(self, session: AsyncSession, callback_id: int) -> QueueCallback | None:
        return await session.get(QueueCallback, callback_id, with_for_update=True)
