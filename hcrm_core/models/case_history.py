"""Status history of complaints and follow-up tasks: every change kept with its time.

Written in the transaction that changes the status (hcrm_core/services/case_history.py) and
read by the complaint and task reports, so a report of a past period shows what was open,
overdue or closed at its end, whatever happened to the cases since (docs/reports.md).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from hcrm_core.models.base import Base, UtcDateTime
from hcrm_core.models.base_types import enum_type
from hcrm_core.models.enums import ComplaintSeverity, ComplaintStatus, FollowUpStatus


class TaskStatusChange(Base):
    """From ``at`` on, task ``task_id`` was in ``status``, owned by ``owner_user_id`` (the
    user it is assigned to, else who claimed it)."""

    __tablename__ = "task_status_changes"
    __table_args__ = (
        Index("ix_task_status_changes_task_at", "task_id", "at"),
        Index("ix_task_status_changes_at", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("followup_tasks.id"))
    status: Mapped[FollowUpStatus] = mapped_column(enum_type(FollowUpStatus))
    owner_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    # Who or what changed it: "user:alice", "dialer", "backfill"...
    actor: Mapped[str] = mapped_column(String(80))


class ComplaintStatusChange(Base):
    """From ``at`` on, complaint ``complaint_id`` was in ``status``, of this severity and
    category, with these due moments (a reopening or a new severity moves them)."""

    __tablename__ = "complaint_status_changes"
    __table_args__ = (
        Index("ix_complaint_status_changes_complaint_at", "complaint_id", "at"),
        Index("ix_complaint_status_changes_at", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id"))
    status: Mapped[ComplaintStatus] = mapped_column(enum_type(ComplaintStatus))
    severity: Mapped[ComplaintSeverity] = mapped_column(enum_type(ComplaintSeverity))
    category: Mapped[str] = mapped_column(String(60))
    acknowledge_due_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    respond_due_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    actor: Mapped[str] = mapped_column(String(80))
