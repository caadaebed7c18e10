"""Sessions follow their user's row: disabling a user ends their sessions, a new role applies.

A session keeps who logged in; whether that user is still active, and their role, are read
again from the database: before serving a request when the session's last check is older than
:data:`USER_CHECK_SECONDS`, and for every live session every :data:`SWEEP_SECONDS` in the
background (a browser holding only a websocket sends no requests). The read is one indexed
query, measured at about 1 ms on SQLite and on PostgreSQL, so checking a session at most every
two seconds costs nothing noticeable while revoking access within two seconds of a request.

A disabled (or deleted) user's sessions end, which closes their websockets, and so do the
sessions of a user given a temporary password since they logged in (``callcenter user
reset-password``; the console's own reset ends them at once); a changed role is
used from the next request on, and their open websockets are closed so the browser reconnects
under the new role.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence

from aiohttp import web

from hcrm_core.db import Database
from hcrm_core.errors import StorageUnavailable
from hcrm_core.services.users import active_accounts
from web_console.keys import DATABASE, SESSIONS
from web_console.sessions import Session, SessionStore

_LOG = logging.getLogger(__name__)
USER_CHECK_SECONDS = 2.0
SWEEP_SECONDS = 10.0


async def revalidate(store: SessionStore, database: Database, sessions: Sequence[Session]) -> None:
    """Read these sessions' users once: end the sessions of users no longer active, apply
    changed roles. Raises :class:`StorageUnavailable` when the database cannot be read."""
    if not sessions:
        return
    accounts = await active_accounts(database, {session.user_id for session in sessions})
    now = store.now()
    for session in sessions:
        account = accounts.get(session.user_id)
        if account is None:
            _LOG.info("user %s is disabled: their console session ended", session.username)
            store.delete(session.id)
            continue
        if account.must_change_password and not session.must_change_password:
            # Given a temporary password since this session logged in (a reset).
            _LOG.info("user %s got a new password: their console session ended", session.username)
            store.delete(session.id)
            continue
        role = account.role
        session.checked_at = now
        if role is not session.role:
            _LOG.info("user %s is now %s: their session follows", session.username, role.value)
            store.change_role(session, role)


async def checked_session(
    store: SessionStore, database: Database, session: Session
) -> Session | None:
    """``session`` once its user is known to be active (its role refreshed), else None."""
    if store.now() - session.checked_at < USER_CHECK_SECONDS:
        return session
    await revalidate(store, database, [session])
    return session if store.alive(session.id) else None


async def _sweep(app: web.Application, every: float) -> None:
    store, database = app[SESSIONS], app[DATABASE]
    while True:
        await asyncio.sleep(every)
        try:
            await revalidate(store, database, store.live_sessions())
        except StorageUnavailable:
            # Requests check their session again themselves; the next sweep retries.
            _LOG.warning("console session check: the database is unavailable")


async def account_check_context(app: web.Application) -> AsyncIterator[None]:
    """``cleanup_ctx``: sweep every live session while the app runs."""
    task = asyncio.get_running_loop().create_task(
        _sweep(app, SWEEP_SECONDS), name="console-account-check"
    )
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
