"""Glue between the supervisor board service and the websocket hub.

The board service (``callcenter.board``, started and stopped by the server's composition root)
publishes coalesced :class:`BoardChanged` snapshots on the bus; while the console runs, this
module forwards each snapshot to every supervisor's and admin's socket, and gives a new socket
the current board first (so a browser that reconnects is whole again).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from callcenter.board.services import BoardChanged
from web_console.access import SUPERVISORS
from web_console.keys import BOARD, BUS, WS_HUB
from web_console.sessions import Session

MESSAGE_TYPE = "board"


def board_message(snapshot: dict[str, Any]) -> dict[str, Any]:
    return {"type": MESSAGE_TYPE, "board": snapshot}


async def board_push_context(app: web.Application) -> AsyncIterator[None]:
    """``cleanup_ctx``: push the board's snapshots to supervisors while the console runs."""
    hub = app[WS_HUB]
    board = app[BOARD]

    async def push(changed: BoardChanged) -> None:
        message = board_message(changed.snapshot)
        for role in SUPERVISORS:
            await hub.broadcast(role, message)

    async def current(_session: Session) -> list[dict[str, Any]]:
        return [board_message(board.snapshot())]

    for role in SUPERVISORS:
        hub.on_connect(role, current)
    # Only the latest board matters: a short queue, so a stalled push cannot pile up.
    subscription = app[BUS].subscribe(BoardChanged, push, name="board-push", maxsize=16)
    try:
        yield
    finally:
        await subscription.close()
