"""What an agent should know about a patient's recent contact: calls, complaints, follow-ups."""

from __future__ import annotations

from sqlalchemy import select

from hcrm_core.db import Database
from hcrm_core.models import (
    Call,
    Complaint,
    ComplaintStatus,
    FollowUpStatus,
    FollowUpTask,
)

OPEN_COMPLAINTS = (ComplaintStatus.OPEN, ComplaintStatus.IN_PROGRESS)


class ContactHistory:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def recent_calls(
        self, patient_id: int, *, limit: int = 5, exclude_linkedid: str | None = None
    ) -> list[Call]:
        """The patient's latest calls, newest first (the call in progress left out)."""
        query = select(Call).where(Call.patient_id == patient_id)
        if exclude_linkedid:
            query = query.where(Call.linkedid != exclude_linkedid)
        async with self._db.session() as session:
            rows = await session.scalars(
                query.order_by(Call.started_at.desc(), Call.id.desc()).limit(limit)
            )
            return list(rows)

    async def open_complaints(self, patient_id: int, *, limit: int = 20) -> list[Complaint]:
        async with self._db.session() as session:
            rows = await session.scalars(
                select(Complaint)
                .where(Complaint.patient_id == patient_id, Complaint.status.in_(OPEN_COMPLAINTS))
                .order_by(Complaint.created_at.desc(), Complaint.id.desc())
                .limit(limit)
            )
            return list(rows)

    async def open_followups(self, patient_id: int, *, limit: int = 20) -> list[FollowUpTask]:
        """Open tasks, most urgent first (priority 1 is highest; undated ones last)."""
        async with self._db.session() as session:
            rows = await session.scalars(
                select(FollowUpTask)
                .where(
                    FollowUpTask.patient_id == patient_id,
                    FollowUpTask.status == FollowUpStatus.OPEN,
                )
                .order_by(
                    FollowUpTask.priority,
                    FollowUpTask.due_date.is_(None),
                    FollowUpTask.due_date,
                    FollowUpTask.id,
                )
                .limit(limit)
            )
            return list(rows)
