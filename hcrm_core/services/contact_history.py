"""What an agent should know about a patient's recent contact: calls, complaints, follow-ups."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from hcrm_core.db import Database
from hcrm_core.models import (
    Appointment,
    Call,
    Complaint,
    ComplaintStatus,
    FollowUpStatus,
    FollowUpTask,
    utcnow,
)
from hcrm_core.services.appointments import upcoming_query

T = TypeVar("T")

OPEN_COMPLAINTS = (
    ComplaintStatus.RECEIVED,
    ComplaintStatus.INVESTIGATING,
    ComplaintStatus.RESPONDED,
    ComplaintStatus.REOPENED,
)


@dataclass(slots=True)
class CardHistory:
    """Everything about a patient's contact with the hospital that a screen pop shows."""

    appointments: list[Appointment]
    calls: list[Call]
    complaints: list[Complaint]
    followups: list[FollowUpTask]


def _recent_calls(patient_id: int, limit: int, exclude_linkedid: str | None) -> Select[Call]:
    query = select(Call).where(Call.patient_id == patient_id)
    if exclude_linkedid:
        query = query.where(Call.linkedid != exclude_linkedid)
    return query.order_by(Call.started_at.desc(), Call.id.desc()).limit(limit)


def _open_complaints(patient_id: int, limit: int) -> Select[Complaint]:
    return (
        select(Complaint)
        .where(Complaint.patient_id == patient_id, Complaint.status.in_(OPEN_COMPLAINTS))
        .order_by(Complaint.created_at.desc(), Complaint.id.desc())
        .limit(limit)
    )


def _open_followups(patient_id: int, limit: int) -> Select[FollowUpTask]:
    # Priority 1 is the most urgent; undated tasks come after dated ones.
    return (
        select(FollowUpTask)
        .where(
            FollowUpTask.patient_id == patient_id,
            FollowUpTask.status.in_((FollowUpStatus.OPEN, FollowUpStatus.IN_PROGRESS)),
        )
        .order_by(
            FollowUpTask.priority,
            FollowUpTask.due_date.is_(None),
            FollowUpTask.due_date,
            FollowUpTask.id,
        )
        .limit(limit)
    )


async def _rows(session: AsyncSession, query: Select[T]) -> list[T]:
    return list((await session.scalars(query)).unique())


class ContactHistory:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def recent_calls(
        self, patient_id: int, *, limit: int = 5, exclude_linkedid: str | None = None
    ) -> list[Call]:
        """The patient's latest calls, newest first (the call in progress left out)."""
        async with self._db.session() as session:
            return await _rows(session, _recent_calls(patient_id, limit, exclude_linkedid))

    async def open_complaints(self, patient_id: int, *, limit: int = 20) -> list[Complaint]:
        async with self._db.session() as session:
            return await _rows(session, _open_complaints(patient_id, limit))

    async def open_followups(self, patient_id: int, *, limit: int = 20) -> list[FollowUpTask]:
        """Open tasks, most urgent first (priority 1 is highest; undated ones last)."""
        async with self._db.session() as session:
            return await _rows(session, _open_followups(patient_id, limit))

    async def for_card(
        self,
        patient_id: int,
        *,
        exclude_linkedid: str | None = None,
        now: datetime | None = None,
        appointments: int = 10,
        calls: int = 5,
    ) -> CardHistory:
        """A screen pop's history in one read (one connection, four statements).

        The pop runs for every queue call: one checkout and one snapshot instead of four
        concurrent sessions keeps the pool free for the rest of the server under load.
        """
        now = now or utcnow()
        async with self._db.session() as session:
            return CardHistory(
                appointments=await _rows(session, upcoming_query(patient_id, now, appointments)),
                calls=await _rows(session, _recent_calls(patient_id, calls, exclude_linkedid)),
                complaints=await _rows(session, _open_complaints(patient_id, 20)),
                followups=await _rows(session, _open_followups(patient_id, 20)),
            )
