"""An agent's desk sign-in ends with their console session: at logout, and when it expires.

Sessions and sign-ins are both stored in the database, but a session can end without this
process hearing of it at once (on another process, or by expiry). So a session-bound agent
without any live session gets ``grace`` seconds (the idle timeout) to come back before being
signed out of the queues: a desk whose agent logs in again is not unplugged, and a desk
nobody returns to stops ringing. Logout or expiry of the agent's last session
signs them out at once. Agents the server signed in itself (the demo's robots) are left alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable

from aiohttp import web

from callcenter.agents.services import AgentService
from callcenter.tasks import BackgroundTasks
from hcrm_core.errors import DomainError
from web_console.keys import DESK, SESSIONS, SETTINGS
from web_console.sessions import Session, SessionStore

_LOG = logging.getLogger(__name__)
CHECK_EVERY_SECONDS = 30.0


class DeskSessionGuard:
    """Signs out session-bound agents whose console sessions are gone."""

    def __init__(
        self,
        sessions: SessionStore,
        agents: AgentService,
        *,
        grace: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sessions = sessions
        self._agents = agents
        self._grace = grace
        self._clock = clock
        self._last_seen: dict[int, float] = {}  # user id -> last time a live session existed
        self._tasks = BackgroundTasks("desk-sign-outs")
        sessions.on_end(self._session_ended)

    async def check(self) -> None:
        """One pass: end expired sessions, sign out agents left without one past the grace."""
        await self._sessions.sweep()  # expired sessions end here (and sign their agent out)
        await self._tasks.wait()  # those sign-outs, before judging who is left without one
        live, now = await self._sessions.live_user_ids(), self._clock()
        for status in self._agents.agents():
            if not status.session_bound:
                continue
            if status.user_id in live:
                self._last_seen[status.user_id] = now
            elif now - self._last_seen.setdefault(status.user_id, now) > self._grace:
                await self._sign_out(status.username, "no console session")

    async def run(self, every: float = CHECK_EVERY_SECONDS) -> None:
        while True:
            await asyncio.sleep(every)
            await self.check()

    async def stop(self) -> None:
        await self._tasks.cancel_all()

    def _session_ended(self, session: Session) -> None:
        status = self._agents.status(session.username)
        if status is None or not status.session_bound:
            return
        self._tasks.spawn(self._sign_out_if_gone(session), session.username)

    async def _sign_out_if_gone(self, session: Session) -> None:
        if session.user_id in await self._sessions.live_user_ids():
            return  # still at the desk in another browser
        await self._sign_out(session.username, "console session ended")

    async def _sign_out(self, username: str, why: str) -> None:
        status = self._agents.status(username)
        if status is None:
            return
        try:
            await self._agents.sign_out(username)
        except DomainError as exc:
            # Asterisk or the database is away: the next check tries again at once.
            self._last_seen[status.user_id] = float("-inf")
            _LOG.warning("agent %s not signed out (%s): %s", username, why, exc.code)
            return
        self._last_seen.pop(status.user_id, None)
        _LOG.info("agent %s signed out of the queues: %s", username, why)


DESK_GUARD: web.AppKey[DeskSessionGuard] = web.AppKey("desk_session_guard", DeskSessionGuard)


def add_desk_sessions(app: web.Application) -> DeskSessionGuard:
    """Tie desk sign-ins to the app's console sessions (checked every 30 s while it runs)."""
    sessions = app[SESSIONS]
    guard = DeskSessionGuard(
        sessions,
        app[DESK].agents,
        grace=app[SETTINGS].web.session_idle_minutes * 60,
        clock=sessions.now,
    )
    app[DESK_GUARD] = guard

    async def watching(app: web.Application) -> AsyncIterator[None]:
        runner = asyncio.get_running_loop().create_task(guard.run(), name="desk-sessions")
        yield
        runner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runner
        await guard.stop()

    app.cleanup_ctx.append(watching)
    return guard
