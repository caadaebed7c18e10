"""The agent desk over the websocket: bus messages out to each agent's browsers, state on connect.

Websocket messages (JSON objects, by ``type``):

- ``desk`` (first, on every connect): the user's agent state (or null), the queues, pause reasons,
  dispositions, complaint categories, whether the phone system is connected, and the server's
  clock (the page shows time in state against it, whatever the browser's clock says);
- ``agent``: the user's agent state changed;
- ``pop``: a screen pop appeared or moved on (``pop.phase``: ringing, answered, ended, missed,
  answered_elsewhere, caller_left, closed);
- ``telephony``: the AMI link went down or came back (to every staff socket).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from callcenter.agents.notifier import AgentStateChanged, ScreenPopChanged
from callcenter.ami.events import AmiConnectionChanged, ConnectionState
from callcenter.bus import Subscription
from hcrm_core.models import Role
from hcrm_core.services.call_records import DISPOSITIONS
from hcrm_core.services.complaints import CATEGORIES
from web_console.keys import AMI_HEALTH, BUS, DATABASE, DESK, WS_HUB
from web_console.sessions import Session
from web_console.ws import WsHub

DESK_ROLES = (Role.AGENT, Role.SUPERVISOR, Role.ADMIN)
_RELAYED = (AgentStateChanged, ScreenPopChanged, AmiConnectionChanged)


def desk_state(app: web.Application, username: str) -> dict[str, Any]:
    """The desk as one message: what a page needs to draw itself from nothing."""
    desk = app[DESK]
    status = desk.agents.status(username)
    health = app[AMI_HEALTH].health()
    return {
        "type": "desk",
        "agent": status.view() if status is not None else None,
        "pops": [pop.view() for pop in desk.pops.open_pops(username)],
        "queues": list(desk.agents.queues),
        "pause_reasons": list(desk.agents.pause_reasons),
        "dispositions": list(DISPOSITIONS),
        "complaint_categories": list(CATEGORIES),
        "telephony": {"connected": health["connected"], "ready": health["asterisk_ready"]},
        "server_time": time.time(),
        "wrapup_max_seconds": desk.agents.wrapup_max_seconds,
    }


def _provider(app: web.Application) -> Any:
    async def on_connect(session: Session) -> list[dict[str, Any]]:
        # With several processes a pop's card is built where the agent's browser is: one
        # that connects here gets the cards of the pops already open.
        await app[DESK].pops.show_cards(session.username)
        return [desk_state(app, session.username)]

    return on_connect


async def _relay(hub: WsHub, item: object) -> None:
    if isinstance(item, AgentStateChanged):
        await hub.send_to_user(item.username, {"type": "agent", "agent": item.agent})
    elif isinstance(item, ScreenPopChanged):
        await hub.send_to_user(item.username, {"type": "pop", "pop": item.pop})
    elif isinstance(item, AmiConnectionChanged):
        message = {
            "type": "telephony",
            "connected": item.state is ConnectionState.CONNECTED,
            "ready": item.asterisk_ready,
        }
        for role in DESK_ROLES:
            await hub.broadcast(role, message)


async def desk_relay_context(app: web.Application) -> AsyncIterator[None]:
    """``cleanup_ctx``: relay the desk's bus messages to the hub while the app runs."""
    hub = app[WS_HUB]
    if app[DATABASE].dialect == "postgresql":  # several processes may share the desk
        pops, agents = app[DESK].pops, app[DESK].agents
        hub.presence = pops.browser_here
        # Where the agent's browser is; with no browser anywhere (an API client), the leader.
        pops.shows = lambda username: (
            hub.has_user(username) or (not pops.browsers_elsewhere(username) and agents.leads())
        )
    provider = _provider(app)
    for role in DESK_ROLES:
        hub.on_connect(role, provider)

    async def relay(item: object) -> None:
        await _relay(hub, item)

    subscription: Subscription[object] = app[BUS].subscribe(
        object,
        relay,
        name="desk-relay",
        predicate=lambda item: isinstance(item, _RELAYED),
        maxsize=50_000,
    )
    yield
    await subscription.close()
