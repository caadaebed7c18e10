"""Call queues kept as data: their Asterisk settings, who answers them, and the IVR key to each.

A queue's members are agents named one by one, agents holding one of its skills, or everyone
(``everyone``: the two queues every site starts with, which every agent joins as before).
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from hcrm_core.models.base import Base, UtcDateTime, utcnow

# Where the dialplan sends inbound callers when the IVR server cannot be reached (rendered into
# extensions.conf as callcenter.asterisk.const.FALLBACK_QUEUE): it must stay an active queue.
FALLBACK_QUEUE: Final = "enquiries"


class CallQueue(Base):
    __tablename__ = "queues"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The Asterisk queue name (queues.conf section and the dialplan's queue extension).
    name: Mapped[str] = mapped_column(String(32), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    strategy: Mapped[str] = mapped_column(String(16), default="rrmemory")
    ring_timeout: Mapped[int] = mapped_column(Integer, default=15)
    wrapup_seconds: Mapped[int] = mapped_column(Integer, default=10)
    # 0: callers wait as long as it takes. Past it: overflow (hangup | queue | message).
    max_wait_seconds: Mapped[int] = mapped_column(Integer, default=0)
    overflow: Mapped[str] = mapped_column(String(16), default="hangup")
    overflow_queue: Mapped[str | None] = mapped_column(String(32))
    announce_position: Mapped[bool] = mapped_column(Boolean, default=True)
    announce_holdtime: Mapped[bool] = mapped_column(Boolean, default=False)
    announce_frequency: Mapped[int] = mapped_column(Integer, default=60)
    # The IVR key that leads here ("0": the key for an agent, pressed anywhere in the IVR).
    menu_digit: Mapped[str | None] = mapped_column(String(1))
    everyone: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


class Skill(Base):
    __tablename__ = "skills"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40), unique=True)


class UserSkill(Base):
    __tablename__ = "user_skills"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    skill_id: Mapped[int] = mapped_column(ForeignKey("skills.id"), primary_key=True)


class QueueAgent(Base):
    """An agent named as a member of a queue."""

    __tablename__ = "queue_agents"

    queue_id: Mapped[int] = mapped_column(ForeignKey("queues.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)


class QueueSkill(Base):
    """A skill whose agents answer a queue."""

    __tablename__ = "queue_skills"

    queue_id: Mapped[int] = mapped_column(ForeignKey("queues.id"), primary_key=True)
    skill_id: Mapped[int] = mapped_column(ForeignKey("skills.id"), primary_key=True)
