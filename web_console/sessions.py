"""Console sessions, kept in the database so that every server process shares them.

A random id lives in the cookie; the database keeps only its SHA-256 (``console_sessions``,
:mod:`hcrm_core.services.console_sessions`). Any process behind a load balancer can serve any
request: a look-up is one indexed read that also reads the user's row, so a logout, an expiry,
a disabled user or a new role applies on the very next request wherever it lands. Browsers
holding only a websocket are checked by their process every few seconds
(:meth:`SessionStore.current`). Nothing about a session is trusted from the client but its id.

Idle expiry and the absolute lifetime are measured on the store's clock (wall-clock seconds,
shared by the processes). ``last_seen`` is written at most every :data:`TOUCH_SECONDS` of use,
not at every request, so a session may end up to that long before its idle limit.

The callbacks (:meth:`SessionStore.on_end`, :meth:`SessionStore.on_role_change`) run in the
process that ended the session (or announced the role); the other processes close their own
websockets when their periodic check no longer finds the session.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from hcrm_core.db import Database
from hcrm_core.models import Role
from hcrm_core.services import console_sessions as rows
from hcrm_core.services.console_sessions import SessionRow

_LOG = logging.getLogger(__name__)
Clock = Callable[[], float]
# A session that is used all day still ends: staff log in again once per shift.
ABSOLUTE_LIFETIME_SECONDS = 12 * 3600
# How stale ``last_seen`` may get before a request writes it again (at most a quarter of the
# idle limit, so a short limit stays accurate).
TOUCH_SECONDS = 60.0


def session_key(session_id: str) -> str:
    """What the database keeps of a session id: its SHA-256, in hex."""
    return hashlib.sha256(session_id.encode()).hexdigest()


@dataclass(slots=True)
class Session:
    """A live session as one look-up found it (a new object at every look-up)."""

    # The cookie's value; empty for a session read without it (a sweep, a user's sessions).
    id: str
    key: str
    user_id: int
    username: str
    role: Role
    csrf_token: str
    created_at: float
    last_seen: float = field(default=0.0)
    # Logged in with a password someone else chose: only /account/password and logout work.
    must_change_password: bool = False


def _at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _session(row: SessionRow, session_id: str = "") -> Session:
    return Session(
        id=session_id,
        key=row.token_hash,
        user_id=row.user_id,
        username=row.username,
        role=row.role,
        csrf_token=row.csrf_token,
        created_at=row.created_at.timestamp(),
        last_seen=row.last_seen.timestamp(),
        must_change_password=row.must_change_password,
    )


class SessionStore:
    """Sessions keyed by an unguessable id; see the module docstring for the contract."""

    def __init__(
        self,
        database: Database,
        idle_seconds: float,
        clock: Clock = time.time,
        *,
        touch_seconds: float = TOUCH_SECONDS,
    ) -> None:
        self._db = database
        self._idle = idle_seconds
        self._clock = clock
        self._touch = min(touch_seconds, idle_seconds / 4)
        self._on_end: list[Callable[[Session], None]] = []
        self._on_role_change: list[Callable[[Session], None]] = []

    async def create(
        self, user_id: int, username: str, role: Role, *, must_change_password: bool = False
    ) -> Session:
        """A new session with a fresh id and CSRF token (called at every login)."""
        now = self._clock()
        session_id = secrets.token_urlsafe(32)
        session = Session(
            id=session_id,
            key=session_key(session_id),
            user_id=user_id,
            username=username,
            role=role,
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            last_seen=now,
            must_change_password=must_change_password,
        )
        await rows.add_session(
            self._db,
            session.key,
            user_id,
            session.csrf_token,
            must_change_password=must_change_password,
            now=_at(now),
        )
        return session

    async def get(self, session_id: str | None) -> Session | None:
        """The live session with this id (touching it now and then), or None when unknown,
        expired or its user may no longer use it (that ends it). Raises
        :class:`~hcrm_core.errors.StorageUnavailable` when the database cannot be read."""
        if not session_id:
            return None
        key = session_key(session_id)
        row = (await rows.find_sessions(self._db, [key])).get(key)
        if row is None:
            return None
        now = self._clock()
        if self._ends(row, now):
            await self._end([row])
            return None
        if now - row.last_seen.timestamp() >= self._touch:
            await rows.touch(self._db, key, _at(now))
        return _session(row, session_id)

    async def current(self, sessions: Iterable[Session]) -> dict[str, Session]:
        """The live ones of these sessions by key, as stored now (their users' roles
        included), without touching any: a websocket's traffic must not keep an idle console
        logged in. Those that must end are ended here."""
        found = await rows.find_sessions(self._db, {session.key for session in sessions})
        now = self._clock()
        ending = [row for row in found.values() if self._ends(row, now)]
        await self._end(ending)
        live = {key: row for key, row in found.items() if not self._ends(row, now)}
        return {key: _session(row) for key, row in live.items()}

    async def delete(self, session_id: str | None) -> None:
        """End the session with this id (a logout, a new login from the same browser)."""
        if session_id:
            await self._end_keys([session_key(session_id)])

    def on_end(self, callback: Callable[[Session], None]) -> None:
        """Call ``callback`` with every session this process ends (logout, expiry, a
        disabled user), once."""
        self._on_end.append(callback)

    def on_role_change(self, callback: Callable[[Session], None]) -> None:
        """Call ``callback`` with every session :meth:`announce_role` names."""
        self._on_role_change.append(callback)

    async def announce_role(self, user_id: int) -> None:
        """The user's role changed (their next look-up reads it): tell the callbacks about
        each of their live sessions, so their websockets reconnect under the new role."""
        for session in await self.user_sessions(user_id):
            for callback in self._on_role_change:
                callback(session)

    async def end_user(self, user_id: int, *, keep: str | None = None) -> int:
        """End every session of ``user_id`` now (but ``keep``, a session id), as a logout
        would: their websockets close and their desk signs out. Returns how many ended."""
        kept = session_key(keep) if keep else None
        ending = [r for r in await rows.user_sessions(self._db, user_id) if r.token_hash != kept]
        return await self._end(ending)

    async def user_sessions(self, user_id: int) -> list[Session]:
        """The live sessions of ``user_id`` (without touching any)."""
        now = self._clock()
        found = await rows.user_sessions(self._db, user_id)
        return [_session(row) for row in found if not self._ends(row, now)]

    async def live_user_ids(self) -> set[int]:
        """Active users with at least one live session (without touching any)."""
        now = self._clock()
        return await rows.live_user_ids(
            self._db,
            idle_before=_at(now - self._idle),
            created_before=_at(now - ABSOLUTE_LIFETIME_SECONDS),
        )

    async def sweep(self) -> int:
        """End the sessions that expired or whose user may no longer use them (otherwise
        noticed only when next used); how many this call ended."""
        now = self._clock()
        stale = await rows.stale_sessions(
            self._db,
            idle_before=_at(now - self._idle),
            created_before=_at(now - ABSOLUTE_LIFETIME_SECONDS),
        )
        return await self._end(stale)

    async def password_changed(self, session: Session) -> None:
        """The user chose their own password in this session: it may do everything again."""
        await rows.password_changed(self._db, session.key)
        session.must_change_password = False

    async def count(self) -> int:
        """How many sessions are stored (live or not yet swept)."""
        return await rows.count_sessions(self._db)

    def now(self) -> float:
        """The store's clock (idle times are measured on it)."""
        return self._clock()

    def _ends(self, row: SessionRow, now: float) -> bool:
        return self._why_it_ends(row, now) is not None

    def _why_it_ends(self, row: SessionRow, now: float) -> str | None:
        if not row.user_active:
            return "user disabled"
        if row.user_must_change_password and not row.must_change_password:
            return "new password"  # given a temporary one since this session logged in
        if now - row.created_at.timestamp() > ABSOLUTE_LIFETIME_SECONDS:
            return "lifetime over"
        if now - row.last_seen.timestamp() > self._idle:
            return "idle"
        return None

    async def _end(self, ending: Collection[SessionRow]) -> int:
        if not ending:
            return 0
        deleted = await rows.delete_sessions(self._db, [row.token_hash for row in ending])
        now = self._clock()
        for row in ending:
            if row.token_hash in deleted:
                why = self._why_it_ends(row, now) or "logout, or ended on purpose"
                _LOG.info("console session of %s ended: %s", row.username, why)
                self._ended(_session(row))
        return len(deleted)

    async def _end_keys(self, keys: list[str]) -> None:
        found = await rows.find_sessions(self._db, keys)
        await self._end(list(found.values()))

    def _ended(self, session: Session) -> None:
        for callback in self._on_end:
            callback(session)
