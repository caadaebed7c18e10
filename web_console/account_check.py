"""Sessions follow their user's row: disabling a user ends their sessions, a new role applies.

Every session look-up reads the user's row in the same query (:mod:`web_console.sessions`), so
a request is always served under the user's current state, on whichever process it lands. A
disabled (or deleted) user's sessions end, which closes their websockets, and so do the
sessions of a user given a temporary password since they logged in (``callcenter user
reset-password``; the console's own reset ends them at once); a changed role is used from the
next request on, and the websockets of the session are closed so the browser reconnects under
the new role (:meth:`web_console.ws.WsHub.close_ended_sessions`, every few seconds).

What no request comes to look at is swept here every :data:`SWEEP_SECONDS`: sessions that
expired or whose user was disabled end (their desk signs out with them), and login throttle
counts no rule uses any more are dropped. Every process sweeps; of two ending one session,
only the one whose delete removed the row runs the end callbacks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from hcrm_core.errors import StorageUnavailable
from web_console.keys import SESSIONS, THROTTLE

_LOG = logging.getLogger(__name__)
SWEEP_SECONDS = 10.0


async def _sweep(app: web.Application, every: float) -> None:
    store, throttle = app[SESSIONS], app[THROTTLE]
    while True:
        await asyncio.sleep(every)
        try:
            ended = await store.sweep()
            await throttle.forget_stale()
        except StorageUnavailable:
            # Requests check their session themselves; the next sweep retries.
            _LOG.warning("console session sweep: the database is unavailable")
            continue
        if ended:
            _LOG.info("console sessions: %d ended (expired or user disabled)", ended)


async def account_check_context(app: web.Application) -> AsyncIterator[None]:
    """``cleanup_ctx``: sweep the stored sessions while the app runs."""
    task = asyncio.get_running_loop().create_task(
        _sweep(app, SWEEP_SECONDS), name="console-account-check"
    )
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
