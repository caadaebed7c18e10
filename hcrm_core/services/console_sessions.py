"""Console sessions as rows (``console_sessions``), shared by every server process.

The console (:mod:`web_console.sessions`) decides what is live; this module only reads and
writes. Each read joins the session to its user, so who they are, whether they are still
active and their role come from ``users`` in the same one indexed read (a primary-key look-up
and a primary-key join). Tokens are hashed by the caller; this module never sees one.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, Select, delete, func, or_, select, update

from hcrm_core.db import Database
from hcrm_core.models import ConsoleSession, Role, User

# Hashes per IN (...) list: far below SQLite's and asyncpg's parameter limits.
_CHUNK = 500


@dataclass(frozen=True, slots=True)
class SessionRow:
    """A stored session with its user's current state."""

    token_hash: str
    user_id: int
    username: str
    role: Role
    csrf_token: str
    must_change_password: bool
    created_at: datetime
    last_seen: datetime
    user_active: bool
    user_must_change_password: bool


# Plain columns, not ORM objects: a look-up runs on every request.
_COLUMNS = (
    ConsoleSession.token_hash,
    User.id,
    User.username,
    User.role,
    ConsoleSession.csrf_token,
    ConsoleSession.must_change_password,
    ConsoleSession.created_at,
    ConsoleSession.last_seen,
    User.active,
    User.must_change_password,
)


def _rows() -> Select[*tuple[Any, ...]]:
    return select(*_COLUMNS).join(User, User.id == ConsoleSession.user_id)


def _row(values: Row[Any]) -> SessionRow:
    return SessionRow(*values)  # type: ignore[call-arg]  # the columns, in field order


async def add_session(
    database: Database,
    token_hash: str,
    user_id: int,
    csrf_token: str,
    *,
    must_change_password: bool,
    now: datetime,
) -> None:
    async with database.transaction() as session:
        session.add(
            ConsoleSession(
                token_hash=token_hash,
                user_id=user_id,
                csrf_token=csrf_token,
                must_change_password=must_change_password,
                created_at=now,
                last_seen=now,
            )
        )


async def find_sessions(database: Database, hashes: Collection[str]) -> dict[str, SessionRow]:
    """The stored sessions among ``hashes`` (expired ones too: the caller judges)."""
    found: dict[str, SessionRow] = {}
    wanted = list(hashes)
    async with database.session() as session:
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start : start + _CHUNK]
            rows = await session.execute(_rows().where(ConsoleSession.token_hash.in_(chunk)))
            for values in rows:
                row = _row(values)
                found[row.token_hash] = row
    return found


async def user_sessions(database: Database, user_id: int) -> list[SessionRow]:
    async with database.session() as session:
        rows = await session.execute(_rows().where(ConsoleSession.user_id == user_id))
        return [_row(values) for values in rows]


async def stale_sessions(
    database: Database, *, idle_before: datetime, created_before: datetime
) -> list[SessionRow]:
    """Sessions idle or old past their limits, and sessions of users no longer active."""
    async with database.session() as session:
        rows = await session.execute(
            _rows().where(
                or_(
                    ConsoleSession.last_seen < idle_before,
                    ConsoleSession.created_at < created_before,
                    User.active.is_(False),
                    User.must_change_password & ~ConsoleSession.must_change_password,
                )
            )
        )
        return [_row(values) for values in rows]


async def live_user_ids(
    database: Database, *, idle_before: datetime, created_before: datetime
) -> set[int]:
    """Active users with at least one session within its limits."""
    async with database.session() as session:
        rows = await session.scalars(
            select(ConsoleSession.user_id)
            .join(User, User.id == ConsoleSession.user_id)
            .where(
                ConsoleSession.last_seen >= idle_before,
                ConsoleSession.created_at >= created_before,
                User.active.is_(True),
            )
            .distinct()
        )
        return set(rows)


async def delete_sessions(database: Database, hashes: Sequence[str]) -> set[str]:
    """Delete these sessions; the hashes this call deleted (not those already gone), so that
    of two processes ending one session only one reports it."""
    deleted: set[str] = set()
    async with database.transaction() as session:
        for start in range(0, len(hashes), _CHUNK):
            chunk = list(hashes[start : start + _CHUNK])
            result = await session.scalars(
                delete(ConsoleSession)
                .where(ConsoleSession.token_hash.in_(chunk))
                .returning(ConsoleSession.token_hash)
            )
            deleted.update(result)
    return deleted


async def touch(database: Database, token_hash: str, now: datetime) -> None:
    async with database.transaction() as session:
        await session.execute(
            update(ConsoleSession)
            .where(ConsoleSession.token_hash == token_hash, ConsoleSession.last_seen < now)
            .values(last_seen=now)
        )


async def password_changed(database: Database, token_hash: str) -> None:
    """The session's user chose their own password: the session is a normal one now."""
    async with database.transaction() as session:
        await session.execute(
            update(ConsoleSession)
            .where(ConsoleSession.token_hash == token_hash)
            .values(must_change_password=False)
        )


async def count_sessions(database: Database) -> int:
    async with database.session() as session:
        return int(await session.scalar(select(func.count()).select_from(ConsoleSession)) or 0)
