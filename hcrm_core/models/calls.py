"""Calls (one per Asterisk Linkedid) and the raw AMI events each was computed from."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hcrm_core.models.base import Base, UtcDateTime, utcnow
from hcrm_core.models.base_types import enum_type
from hcrm_core.models.enums import CallDirection, RecordingStatus


class Call(Base):
    __tablename__ = "calls"
    __table_args__ = (
        Index("ix_calls_started_at", "started_at"),
        Index("ix_calls_patient_started", "patient_id", "started_at"),
        # The reports: queue figures by when calls queued, agent figures by when answered
        # (on PostgreSQL from the index alone: it carries what the agent report reads).
        Index("ix_calls_queued_at", "queued_at"),
        Index(
            "ix_calls_answered_at",
            "answered_at",
            postgresql_include=["agent_user_id", "agent_interface", "ended_at"],
        ),
        # The queues of the call log, one index seek each (a skip scan, reports_queues.py).
        Index("ix_calls_queue_queued_at", "queue", "queued_at"),
        # The IVR report: calls by when they entered the phone menus.
        Index("ix_calls_ivr_entered_at", "ivr_entered_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Asterisk's Linkedid: shared by every channel of one call, including Local pairs.
    linkedid: Mapped[str] = mapped_column(String(64), unique=True)
    direction: Mapped[CallDirection] = mapped_column(enum_type(CallDirection))
    caller_number: Mapped[str | None] = mapped_column(String(80))
    caller_name: Mapped[str | None] = mapped_column(String(200))
    dialled_number: Mapped[str | None] = mapped_column(String(80))
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    ivr_entered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    ivr_left_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    ivr_last_step: Mapped[str | None] = mapped_column(String(80))
    queue: Mapped[str | None] = mapped_column(String(80))
    queued_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    queue_wait_seconds: Mapped[float | None] = mapped_column(Float)
    abandoned: Mapped[bool] = mapped_column(default=False)
    agent_interface: Mapped[str | None] = mapped_column(String(120))
    agent_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    hangup_cause: Mapped[int | None] = mapped_column(Integer)
    end_reason: Mapped[str | None] = mapped_column(String(80))
    transfers: Mapped[int] = mapped_column(Integer, default=0)
    disposition: Mapped[str | None] = mapped_column(String(80))
    notes: Mapped[str | None] = mapped_column(Text)
    # What the caller did in the IVR (identity confirmed, choices, failures), for screen pops.
    ivr_context: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    campaign_attempt_id: Mapped[int | None] = mapped_column(ForeignKey("campaign_attempts.id"))


class CallEvent(Base):
    """One AMI event as received, so a call's record can be recomputed from its events."""

    __tablename__ = "call_events"
    __table_args__ = (
        Index("ix_call_events_linkedid_seq", "linkedid", "seq"),
        # Every server process writes the events its own AMI session saw (issue 18): the key,
        # a digest of the event as Asterisk sent it, makes the second copy a no-op.
        Index("uq_call_events_event_key", "event_key", unique=True),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    linkedid: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int] = mapped_column(BigInteger)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    name: Mapped[str] = mapped_column(String(64))
    headers: Mapped[dict[str, str]] = mapped_column(JSON)
    # None for rows written before issue 18 (never deduplicated).
    event_key: Mapped[str | None] = mapped_column(String(32))


class Recording(Base):
    __tablename__ = "recordings"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id"), index=True)
    # Named by server-side ids only; never by anything the caller controls.
    asterisk_path: Mapped[str] = mapped_column(String(500))
    local_path: Mapped[str | None] = mapped_column(String(500))
    status: Mapped[RecordingStatus] = mapped_column(
        enum_type(RecordingStatus), default=RecordingStatus.RECORDING
    )
    started_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    duration_seconds: Mapped[float | None] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)
    legal_hold: Mapped[bool] = mapped_column(default=False)
    # -- recording slice (issue 7): who and what the recording belongs to --------------------
    linkedid: Mapped[str | None] = mapped_column(String(64), index=True)
    # MixMonitor's channel (the caller's), for AMI MixMonitorMute; never a file name.
    channel: Mapped[str | None] = mapped_column(String(200))
    policy: Mapped[str | None] = mapped_column(String(20))  # always / on_demand
    # The two directions as Asterisk wrote them (r = caller, t = agent).
    caller_asterisk_path: Mapped[str | None] = mapped_column(String(500))
    agent_asterisk_path: Mapped[str | None] = mapped_column(String(500))
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"), index=True)
    agent_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    agent_interface: Mapped[str | None] = mapped_column(String(120))
    queue: Mapped[str | None] = mapped_column(String(80))
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"))
    # Muted stretches: [{"at": iso, "paused": bool, "by": user id}], in order.
    pauses: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # The processed stereo file for the browser (left caller, right agent).
    audio_path: Mapped[str | None] = mapped_column(String(500))
    audio_format: Mapped[str | None] = mapped_column(String(10))
    audio_encrypted: Mapped[bool] = mapped_column(default=False)
    audio_deleted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    peaks: Mapped[list[float]] = mapped_column(JSON, default=list)
    processed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class Transcript(Base):
    __tablename__ = "transcripts"

    id: Mapped[int] = mapped_column(primary_key=True)
    recording_id: Mapped[int] = mapped_column(ForeignKey("recordings.id"), index=True)
    speaker: Mapped[str] = mapped_column(String(20))  # "caller" or "agent"
    text: Mapped[str] = mapped_column(Text)
    words: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # True when text and words hold ciphertext (a recording key is configured).
    encrypted: Mapped[bool] = mapped_column(default=False)
