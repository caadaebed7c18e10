"""Console users and their roles."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, String, false, text
from sqlalchemy.orm import Mapped, mapped_column

from hcrm_core.models.base import Base, UtcDateTime, utcnow
from hcrm_core.models.base_types import enum_type
from hcrm_core.models.enums import Role


class User(Base):
    """A console user. ``must_change_password`` is set for a password someone else chose (an
    admin's initial or reset one): the console lets the user do nothing else until changed."""

    __tablename__ = "users"
    __table_args__ = (
        # Calls for one phone must never pop on two desks: among active users an extension is
        # held once (a disabled user keeps theirs, which an enable checks again).
        Index(
            "uq_users_active_extension",
            "extension",
            unique=True,
            sqlite_where=text("active"),
            postgresql_where=text("active"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(120))
    role: Mapped[Role] = mapped_column(enum_type(Role))
    password_hash: Mapped[str] = mapped_column(String(200))
    extension: Mapped[str | None] = mapped_column(String(32))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    must_change_password: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )
    password_changed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class AgentSignIn(Base):
    """An agent signed in at the desk: what the server puts back into the queues after a restart.

    One row per signed-in user; deleted when they sign out (or their console session ends).
    ``session_bound`` rows belong to a console session and end with it; others (the demo's
    robot agents) are signed in by the server itself.
    """

    __tablename__ = "agent_sign_ins"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    extension: Mapped[str] = mapped_column(String(32))
    interface: Mapped[str] = mapped_column(String(128), unique=True)
    queues: Mapped[list[str]] = mapped_column(JSON, default=list)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    pause_reason: Mapped[str] = mapped_column(String(64), default="")
    session_bound: Mapped[bool] = mapped_column(Boolean, default=True)
    signed_in_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)
