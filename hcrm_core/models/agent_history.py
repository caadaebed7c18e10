"""Agent state history: every change of an agent's shown state, kept with its time.

Written by the agent desk's history writer (batched, off the event path) and read by the
reports: an agent's time signed in, ready, paused (by reason), ringing, on call and in
wrap-up over a period is the sum of the stretches between consecutive rows.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from hcrm_core.models.base import Base, UtcDateTime

# The desk's words (callcenter.agents.state.AgentState), kept as plain strings: hcrm_core
# imports no telephony.
AGENT_STATES = ("signed_out", "ready", "paused", "ringing", "on_call", "wrap_up")


class AgentStateChange(Base):
    """From ``at`` on, ``user_id`` was in ``state`` (with ``pause_reason`` when paused)."""

    __tablename__ = "agent_state_changes"
    __table_args__ = (
        Index("ix_agent_state_changes_user_at", "user_id", "at"),
        Index("ix_agent_state_changes_at", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    username: Mapped[str] = mapped_column(String(64))
    extension: Mapped[str] = mapped_column(String(32), default="")
    state: Mapped[str] = mapped_column(String(20))
    pause_reason: Mapped[str] = mapped_column(String(80), default="")
    at: Mapped[datetime] = mapped_column(UtcDateTime)
