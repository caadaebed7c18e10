"""Recording processing jobs, supervisors' QA reviews (issue 7) and the transcript index."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hcrm_core.models.base import Base, UtcDateTime, utcnow


class RecordingJob(Base):
    """One unit of work on a recording, claimed with a lease so a crash never loses it and two
    workers never run it at once (state ``queued`` -> ``running`` -> ``done`` | ``failed``)."""

    __tablename__ = "recording_jobs"
    __table_args__ = (
        UniqueConstraint("recording_id", "kind", name="uq_recording_jobs_recording_kind"),
        Index("ix_recording_jobs_state_id", "state", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    recording_id: Mapped[int] = mapped_column(ForeignKey("recordings.id"))
    kind: Mapped[str] = mapped_column(String(20), default="process")
    state: Mapped[str] = mapped_column(String(20), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(80))
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class RecordingReview(Base):
    """A supervisor's QA scorecard for one recording: one per reviewer, updated in place."""

    __tablename__ = "recording_reviews"
    __table_args__ = (
        UniqueConstraint(
            "recording_id", "reviewer_user_id", name="uq_recording_reviews_recording_reviewer"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    recording_id: Mapped[int] = mapped_column(ForeignKey("recordings.id"), index=True)
    reviewer_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    scores: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class TranscriptTerm(Base):
    """One word of a transcript as a keyed blind-index token (never the word itself).

    Written by the recording processor (and ``callcenter recordings reindex``); a text search
    finds the transcripts holding every token of its words here and decrypts only those.
    """

    __tablename__ = "transcript_terms"
    __table_args__ = (
        UniqueConstraint("transcript_id", "token", name="uq_transcript_terms_transcript_token"),
        Index("ix_transcript_terms_token_transcript", "token", "transcript_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    transcript_id: Mapped[int] = mapped_column(ForeignKey("transcripts.id"))
    recording_id: Mapped[int] = mapped_column(ForeignKey("recordings.id"), index=True)
    token: Mapped[str] = mapped_column(String(64))
