"""What an admin's change to a user does to the running console, at once (not at the next
periodic check, :mod:`web_console.account_check`, which remains the net for changes made
elsewhere, such as the command line).

- Disabled, or given a new password: every console session of the user ends, as a logout
  would; the store's end callbacks close their websockets (4401) and the desk guard signs
  them out of the queues. They are also signed out of the queues here first, so a user with
  no console session left (after a restart) stops ringing too.
- New role: their sessions follow it now; their websockets close (1012) and reconnect under it.
- New extension: a user signed in on the old phone is signed out of the queues (they sign in
  again on the new one).
"""

from __future__ import annotations

import logging

from aiohttp import web

from hcrm_core.errors import DomainError
from web_console.keys import DESK, SESSIONS

_LOG = logging.getLogger(__name__)


async def sign_out_of_queues(app: web.Application, username: str, why: str) -> None:
    """Take the user out of the queues if signed in; a failure (Asterisk away) is logged and
    left to the desk guard, which retries once they have no console session."""
    agents = app[DESK].agents
    if agents.status(username) is None:
        return
    try:
        await agents.sign_out(username)
    except DomainError as exc:
        _LOG.warning("agent %s not signed out (%s): %s", username, why, exc.code)
        return
    _LOG.info("agent %s signed out of the queues: %s", username, why)


async def end_user_sessions(app: web.Application, user_id: int, username: str, why: str) -> int:
    """Sign the user out of the queues and end all their console sessions; how many ended."""
    await sign_out_of_queues(app, username, why)
    ended = await app[SESSIONS].end_user(user_id)
    if ended:
        _LOG.info("user %s: %d console session(s) ended (%s)", username, ended, why)
    return ended


async def apply_role(app: web.Application, user_id: int) -> None:
    """Their sessions read the new role at their next look-up; their websockets here close
    now (other processes close theirs at their next check)."""
    await app[SESSIONS].announce_role(user_id)


async def apply_extension(app: web.Application, username: str, extension: str | None) -> None:
    status = app[DESK].agents.status(username)
    if status is not None and status.extension != extension:
        await sign_out_of_queues(app, username, "extension changed")
