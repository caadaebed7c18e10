"""Follow-up plans, campaigns, call attempts, survey answers and complaints."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from hcrm_core.models.base import Base, UtcDateTime, utcnow
from hcrm_core.models.base_types import enum_type
from hcrm_core.models.enums import (
    AttemptStatus,
    CampaignKind,
    CampaignStatus,
    ComplaintSeverity,
    ComplaintStatus,
    FollowUpStatus,
    TaskSource,
)


class FollowUpTask(Base):
    """Work for a person: call this patient back, check on this symptom (the task inbox).

    Claims are a conditional UPDATE on ``version`` (hcrm_core/services/tasks.py): of two
    agents claiming one task, exactly one changes the row.
    """

    __tablename__ = "followup_tasks"
    __table_args__ = (
        Index("ix_followup_tasks_status_due", "status", "due_date"),
        Index("ix_followup_tasks_status_due_at", "status", "due_at"),
        Index("ix_followup_tasks_owner_status", "owner_user_id", "status"),
        Index("ix_followup_tasks_created_at", "created_at"),  # the task report
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    reason: Mapped[str] = mapped_column(String(200))
    priority: Mapped[int] = mapped_column(Integer, default=3)  # 1 = highest
    due_date: Mapped[date | None] = mapped_column(Date)
    status: Mapped[FollowUpStatus] = mapped_column(
        enum_type(FollowUpStatus), default=FollowUpStatus.OPEN
    )
    owner_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    source_attempt_id: Mapped[int | None] = mapped_column(ForeignKey("campaign_attempts.id"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    source_kind: Mapped[TaskSource] = mapped_column(
        enum_type(TaskSource), default=TaskSource.MANUAL, server_default=TaskSource.MANUAL.value
    )
    # What the source is: a call's Linkedid, an after-hours request id, an attempt id...
    source_ref: Mapped[str | None] = mapped_column(String(120))
    due_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    queue: Mapped[str | None] = mapped_column(String(64))
    notes: Mapped[str | None] = mapped_column(Text)
    outcome: Mapped[str | None] = mapped_column(Text)
    claimed_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    claimed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # The last call placed from the task (click-to-dial), by its Linkedid / channel id.
    last_call_ref: Mapped[str | None] = mapped_column(String(64))
    created_by: Mapped[str | None] = mapped_column(String(80))
    version: Mapped[int] = mapped_column(Integer, default=1, server_default=text("1"))
    updated_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class Campaign(Base):
    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[CampaignKind] = mapped_column(enum_type(CampaignKind))
    status: Mapped[CampaignStatus] = mapped_column(
        enum_type(CampaignStatus), default=CampaignStatus.DRAFT
    )
    # Target selection, pacing, window, retry rules and survey questions, as data.
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


_IN_FLIGHT = text("status IN ('dialling', 'answered')")
# Matched by hcrm_core.services.campaigns to recognise "patient already on a call".
ATTEMPT_IN_FLIGHT_INDEX = "uq_campaign_attempts_patient_in_flight"


class CampaignAttempt(Base):
    """One dial of one patient; written before it is dialled (its id becomes the ChannelId)."""

    __tablename__ = "campaign_attempts"
    __table_args__ = (
        Index("ix_campaign_attempts_campaign_status", "campaign_id", "status"),
        Index("ix_campaign_attempts_dialled_at", "dialled_at"),  # the campaign report
        # Never two calls to one patient at once, across campaigns and server processes: the
        # database refuses a second attempt in flight for the same patient.
        Index(
            ATTEMPT_IN_FLIGHT_INDEX,
            "patient_id",
            unique=True,
            sqlite_where=_IN_FLIGHT,
            postgresql_where=_IN_FLIGHT,
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    appointment_id: Mapped[int | None] = mapped_column(ForeignKey("appointments.id"))
    phone_e164: Mapped[str] = mapped_column(String(20))
    attempt_no: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[AttemptStatus] = mapped_column(
        enum_type(AttemptStatus), default=AttemptStatus.SCHEDULED
    )
    scheduled_for: Mapped[datetime] = mapped_column(UtcDateTime)
    dialled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    outcome_detail: Mapped[str | None] = mapped_column(String(200))


class SurveyAnswer(Base):
    __tablename__ = "survey_answers"

    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("campaign_attempts.id"), index=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    question_key: Mapped[str] = mapped_column(String(64))
    answer: Mapped[str] = mapped_column(String(64))
    answered_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Complaint(Base):
    """A complaint, handled to closure (hcrm_core/services/complaints.py)."""

    __tablename__ = "complaints"
    __table_args__ = (
        Index("ix_complaints_status_respond_due", "status", "respond_due_at"),
        Index("ix_complaints_created_at", "created_at"),  # the complaint report
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id"))
    category: Mapped[str] = mapped_column(String(60))
    description: Mapped[str] = mapped_column(Text)
    status: Mapped[ComplaintStatus] = mapped_column(
        enum_type(ComplaintStatus), default=ComplaintStatus.RECEIVED
    )
    owner_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # The closing summary.
    resolution: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # When it was closed.
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    severity: Mapped[ComplaintSeverity] = mapped_column(
        enum_type(ComplaintSeverity),
        default=ComplaintSeverity.MEDIUM,
        server_default=ComplaintSeverity.MEDIUM.value,
    )
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    acknowledge_due_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    respond_due_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    responded_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    reopened_count: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    updated_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class ComplaintCall(Base):
    """A call linked to a complaint (its recordings come with it)."""

    __tablename__ = "complaint_calls"
    __table_args__ = (UniqueConstraint("complaint_id", "call_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id"), index=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id"))
    linked_by: Mapped[str] = mapped_column(String(80))
    linked_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class ComplaintContact(Base):
    """One contact with the patient about a complaint (the contact log)."""

    __tablename__ = "complaint_contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id"), index=True)
    channel: Mapped[str] = mapped_column(String(20))  # phone, letter, email, in_person
    summary: Mapped[str] = mapped_column(Text)
    call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor: Mapped[str] = mapped_column(String(80))
    contacted_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
