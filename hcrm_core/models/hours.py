"""Opening hours per queue, the holiday calendar, what callers hear when closed, and their requests.

Queues are named by their Asterisk name (a string, no foreign key): hours may be kept for a
queue before or after it exists as data. A queue with no hours at all is always open.
Times are minutes of the day in the hospital's time zone (``closes_minute`` 1440 is midnight
at the end of the day), so an interval never crosses midnight: 22:00-06:00 is two rows.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from hcrm_core.models.base import Base, UtcDateTime, utcnow
from hcrm_core.models.base_types import enum_type

QUEUE_NAME_LENGTH = 64
MINUTES_PER_DAY = 24 * 60
# The file names of after-hours voicemails (the IVR records them; the recording slice seals them).
VOICEMAIL_PREFIX = "after-hours-"


class AfterHoursKind(StrEnum):
    VOICEMAIL = "voicemail"
    CALLBACK = "callback"


class AfterHoursStatus(StrEnum):
    OPEN = "open"
    DONE = "done"


class OpeningInterval(Base):
    """One weekly interval when a queue answers: weekday (Monday = 0), opens, closes."""

    __tablename__ = "opening_hours"
    __table_args__ = (
        CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday"),
        CheckConstraint(
            f"opens_minute >= 0 AND opens_minute < closes_minute "
            f"AND closes_minute <= {MINUTES_PER_DAY}",
            name="minutes",
        ),
        UniqueConstraint("queue", "weekday", "opens_minute"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    queue: Mapped[str] = mapped_column(String(QUEUE_NAME_LENGTH), index=True)
    weekday: Mapped[int] = mapped_column(SmallInteger)
    opens_minute: Mapped[int] = mapped_column(Integer)
    closes_minute: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Holiday(Base):
    """A day the hospital's queues are closed (``queue`` None), or one queue is."""

    __tablename__ = "holidays"
    __table_args__ = (Index("ix_holidays_day_queue", "day", "queue"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date)
    name: Mapped[str] = mapped_column(String(120))
    queue: Mapped[str | None] = mapped_column(String(QUEUE_NAME_LENGTH))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class AfterHoursOptions(Base):
    """What a queue offers when it is closed. No row: voicemail and callback, no emergency."""

    __tablename__ = "after_hours_options"
    __table_args__ = (
        CheckConstraint(
            "(emergency_digit IS NULL) = (emergency_number IS NULL)", name="emergency_pair"
        ),
    )

    queue: Mapped[str] = mapped_column(String(QUEUE_NAME_LENGTH), primary_key=True)
    # The key that transfers to the emergency number (E.164); both or neither.
    emergency_digit: Mapped[str | None] = mapped_column(String(1))
    emergency_number: Mapped[str | None] = mapped_column(String(32))
    voicemail: Mapped[bool] = mapped_column(Boolean, default=True)
    callback: Mapped[bool] = mapped_column(Boolean, default=True)
    # The queue's own closed message per prompt language ({"en": "...", "zh": "..."}), said
    # instead of the standard one once `callcenter prompts build` has rendered it.
    closed_messages: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class AfterHoursRequest(Base):
    """A voicemail or a "call me back" left while a queue was closed: work for the morning."""

    __tablename__ = "after_hours_requests"
    __table_args__ = (Index("ix_after_hours_requests_status_created", "status", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[AfterHoursKind] = mapped_column(enum_type(AfterHoursKind))
    queue: Mapped[str] = mapped_column(String(QUEUE_NAME_LENGTH))
    caller_number: Mapped[str] = mapped_column(String(64), default="")
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"), index=True)
    # The voicemail: first as Asterisk wrote it (absolute path, .wav), then, once the recording
    # processor has sealed it with the recording key, the encrypted copy (.wav.enc; see
    # callcenter/recording/voicemails.py); None for a callback or once deleted.
    recording_path: Mapped[str | None] = mapped_column(String(300))
    linkedid: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[AfterHoursStatus] = mapped_column(
        enum_type(AfterHoursStatus), default=AfterHoursStatus.OPEN
    )
    # The follow-up task made for an identified patient (the task inbox picks it up).
    task_id: Mapped[int | None] = mapped_column(ForeignKey("followup_tasks.id"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
