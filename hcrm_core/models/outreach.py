"""Follow-up plans, campaigns, call attempts, survey answers and complaints."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from hcrm_core.models.base import Base, UtcDateTime, utcnow
from hcrm_core.models.base_types import enum_type
from hcrm_core.models.enums import (
    AttemptStatus,
    CampaignKind,
    CampaignStatus,
    ComplaintStatus,
    FollowUpStatus,
)


class FollowUpTask(Base):
    """Work for a person: call this patient back, check on this symptom."""

    __tablename__ = "followup_tasks"
    __table_args__ = (Index("ix_followup_tasks_status_due", "status", "due_date"),)

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
    __tablename__ = "complaints"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id"))
    category: Mapped[str] = mapped_column(String(60))
    description: Mapped[str] = mapped_column(Text)
    status: Mapped[ComplaintStatus] = mapped_column(
        enum_type(ComplaintStatus), default=ComplaintStatus.OPEN
    )
    owner_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    resolution: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
