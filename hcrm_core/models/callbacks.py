"""Callbacks that keep the caller's place: a caller who pressed the callback key in a queue.

The row keeps the place: ``arrived_at`` is when the caller joined the queue, and the
placeholder call the server puts in the queue for them waits behind exactly the callers who
arrived earlier (callcenter/callbacks/). Each placement of that placeholder is numbered
(``placement``): "<prefix><id>-<placement>" is its channel id, written before it is placed,
so after a crash the server finds it in Asterisk instead of placing it again.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, Integer, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from hcrm_core.models.base import Base, UtcDateTime, utcnow
from hcrm_core.models.base_types import enum_type


class CallbackStatus(StrEnum):
    """waiting -> placed (holding the place in the queue) -> dialling (an agent took it, the
    patient's phone rings) -> done; no answer -> waiting again (a retry) or, after the last
    try, failed (a task for a person); cancelled by a supervisor."""

    WAITING = "waiting"
    PLACED = "placed"
    DIALLING = "dialling"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


class QueueCallback(Base):
    __tablename__ = "queue_callbacks"
    __table_args__ = (Index("ix_queue_callbacks_status_due", "status", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    queue: Mapped[str] = mapped_column(String(64))
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"), index=True)
    # Validated E.164: the only form that reaches a dial string.
    phone_e164: Mapped[str] = mapped_column(String(20))
    # The place held: when the caller joined the queue, and their queue priority (QUEUE_PRIO).
    arrived_at: Mapped[datetime] = mapped_column(UtcDateTime)
    priority: Mapped[int] = mapped_column(SmallInteger, default=0)
    # Where Asterisk had them when they pressed the key (for the record; the place is kept by
    # arrived_at).
    queue_position: Mapped[int | None] = mapped_column(SmallInteger)
    status: Mapped[CallbackStatus] = mapped_column(
        enum_type(CallbackStatus), default=CallbackStatus.WAITING
    )
    # Placements so far: the current one's channel id is "<prefix><id>-<placement>".
    placement: Mapped[int] = mapped_column(Integer, default=0)
    # Times the patient's phone was rung (no answer counts; the retry rule reads it).
    dial_attempts: Mapped[int] = mapped_column(Integer, default=0)
    # When it may be placed (again): now for a new one, later for a retry.
    due_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # The call in which the caller asked (its Linkedid).
    linkedid: Mapped[str | None] = mapped_column(String(64))
    outcome_detail: Mapped[str | None] = mapped_column(String(120))
    task_id: Mapped[int | None] = mapped_column(ForeignKey("followup_tasks.id"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
