"""Server-side console sessions: a random id in the cookie, everything else in this process.

The store is in memory: one server process owns its sessions, a restart logs everyone out,
and several processes behind a load balancer would need sticky sessions (or a shared store
behind the same interface). Nothing about a session is trusted from the client but its id.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from hcrm_core.models import Role

Clock = Callable[[], float]
# A session that is used all day still ends: staff log in again once per shift.
ABSOLUTE_LIFETIME_SECONDS = 12 * 3600


@dataclass(slots=True)
class Session:
    id: str
    user_id: int
    username: str
    role: Role
    csrf_token: str
    created_at: float
    last_seen: float = field(default=0.0)
    # When the user's row (active, role) was last read: see web_console/account_check.py.
    checked_at: float = field(default=0.0)
    # Logged in with a password someone else chose: only /account/password and logout work.
    must_change_password: bool = False


class SessionStore:
    """Sessions keyed by an unguessable id; idle ones expire on the next look-up."""

    def __init__(self, idle_seconds: float, clock: Clock = time.monotonic) -> None:
        self._idle = idle_seconds
        self._clock = clock
        self._sessions: dict[str, Session] = {}
        self._on_end: list[Callable[[Session], None]] = []
        self._on_role_change: list[Callable[[Session], None]] = []

    def create(
        self, user_id: int, username: str, role: Role, *, must_change_password: bool = False
    ) -> Session:
        """A new session with a fresh id and CSRF token (called at every login)."""
        self._sweep()
        now = self._clock()
        session = Session(
            id=secrets.token_urlsafe(32),
            user_id=user_id,
            username=username,
            role=role,
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            last_seen=now,
            checked_at=now,
            must_change_password=must_change_password,
        )
        self._sessions[session.id] = session
        return session

    def get(self, session_id: str | None) -> Session | None:
        """The live session with this id (touching it), or None when unknown or expired."""
        if not session_id:
            return None
        session = self._sessions.get(session_id)
        if session is None:
            return None
        now = self._clock()
        if self._expired(session, now):
            self._end(session_id)
            return None
        session.last_seen = now
        return session

    def delete(self, session_id: str | None) -> None:
        if session_id:
            self._end(session_id)

    def on_end(self, callback: Callable[[Session], None]) -> None:
        """Call ``callback`` with every session that ends (logout, expiry), once."""
        self._on_end.append(callback)

    def on_role_change(self, callback: Callable[[Session], None]) -> None:
        """Call ``callback`` with every session whose role :meth:`change_role` changed."""
        self._on_role_change.append(callback)

    def change_role(self, session: Session, role: Role) -> None:
        """The user's role changed in the database: the session follows from now on."""
        if session.role is role:
            return
        session.role = role
        for callback in self._on_role_change:
            callback(session)

    def end_user(self, user_id: int, *, keep: str | None = None) -> int:
        """End every session of ``user_id`` now (but ``keep``), as a logout would: their
        websockets close and their desk signs out. Returns how many ended."""
        ending = [k for k, s in self._sessions.items() if s.user_id == user_id and k != keep]
        for key in ending:
            self._end(key)
        return len(ending)

    def user_sessions(self, user_id: int) -> list[Session]:
        """The live sessions of ``user_id`` (without touching any)."""
        return [s for s in self.live_sessions() if s.user_id == user_id]

    def live_sessions(self) -> list[Session]:
        """Every session that has not expired (without touching any)."""
        now = self._clock()
        return [s for s in self._sessions.values() if not self._expired(s, now)]

    def now(self) -> float:
        """The store's clock (idle times are measured on it)."""
        return self._clock()

    def sweep(self) -> None:
        """End the sessions that expired (otherwise noticed only when next used)."""
        self._sweep()

    def live_user_ids(self) -> set[int]:
        """Users with at least one live session (without touching any)."""
        now = self._clock()
        return {s.user_id for s in self._sessions.values() if not self._expired(s, now)}

    def alive(self, session_id: str) -> bool:
        """Whether the session still exists and has not expired, without touching it (a
        websocket's traffic must not keep an idle console logged in)."""
        session = self._sessions.get(session_id)
        return session is not None and not self._expired(session, self._clock())

    def __len__(self) -> int:
        return len(self._sessions)

    def _expired(self, session: Session, now: float) -> bool:
        return (
            now - session.last_seen > self._idle
            or now - session.created_at > ABSOLUTE_LIFETIME_SECONDS
        )

    def _sweep(self) -> None:
        now = self._clock()
        for key in [k for k, s in self._sessions.items() if self._expired(s, now)]:
            self._end(key)

    def _end(self, session_id: str) -> None:
        session = self._sessions.pop(session_id, None)
        if session is not None:
            for callback in self._on_end:
                callback(session)
