"""The console's shared state: sessions and login throttles.

Kept in the database so that every server process behind a load balancer sees the same: a
session created on one process works on another, a logout or a disabled user ends it on all,
and a login throttle counts the failures made against any of them. The cookie holds the
session's id; only its SHA-256 is stored, so a copy of the database logs nobody in.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from hcrm_core.models.base import Base, UtcDateTime


class ConsoleSession(Base):
    """A logged-in browser. Who the user is and their role are read from ``users`` at every
    look-up (a join), so a disabled user or a new role applies on every process at once."""

    __tablename__ = "console_sessions"
    __table_args__ = (
        Index("ix_console_sessions_user_id", "user_id"),
        Index("ix_console_sessions_last_seen", "last_seen"),
    )

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    csrf_token: Mapped[str] = mapped_column(String(64))
    # Logged in with a temporary password: only the password page and logout work.
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # Written at most every few seconds of use, not at every request (see web_console).
    last_seen: Mapped[datetime] = mapped_column(UtcDateTime)


class LoginFailure(Base):
    """One failed (or still running) login attempt from an address: the per-address cap
    counts these within its window."""

    __tablename__ = "login_failures"
    __table_args__ = (Index("ix_login_failures_address_at", "address", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    address: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UtcDateTime)


class LoginBackoff(Base):
    """The growing delay of one account from one address."""

    __tablename__ = "login_backoffs"
    __table_args__ = (Index("ix_login_backoffs_last_at", "last_at"),)

    account: Mapped[str] = mapped_column(String(64), primary_key=True)
    address: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    last_at: Mapped[datetime] = mapped_column(UtcDateTime)
    next_allowed_at: Mapped[datetime] = mapped_column(UtcDateTime)
