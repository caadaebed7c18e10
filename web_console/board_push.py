"""Glue between the supervisor board service and the websocket hub.

The board service (``callcenter.board.services``) publishes coalesced :class:`BoardChanged`
snapshots on the bus; this module runs the service for the console's lifetime, forwards each
snapshot to every supervisor's and admin's socket, and gives a new socket the current board
first (so a browser that reconnects is whole again).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from callcenter.asterisk import const
from callcenter.board.services import BoardChanged, BoardService
from web_console.access import SUPERVISORS
from web_console.keys import BOARD, RUNTIME, WS_HUB
from web_console.sessions import Session

MESSAGE_TYPE = "board"


def board_message(snapshot: dict[str, Any]) -> dict[str, Any]:
    return {"type": MESSAGE_TYPE, "board": snapshot}


def add_board(app: web.Application) -> None:
    """Give the app its board (before start-up: app state is frozen once it runs)."""
    runtime = app[RUNTIME]
    app[BOARD] = BoardService(
        runtime.bus,
        runtime.database,
        runtime.ami,
        timezone=runtime.settings.hospital.timezone,
        queues=[(q.name, q.description) for q in const.QUEUES],
    )
    app.cleanup_ctx.append(board_context)


async def board_context(app: web.Application) -> AsyncIterator[None]:
    """``cleanup_ctx``: start the board service and push its snapshots; stop them with the app."""
    runtime = app[RUNTIME]
    hub = app[WS_HUB]
    board = app[BOARD]
    await board.start()

    async def push(changed: BoardChanged) -> None:
        message = board_message(changed.snapshot)
        for role in SUPERVISORS:
            await hub.broadcast(role, message)

    async def current(_session: Session) -> list[dict[str, Any]]:
        return [board_message(board.snapshot())]

    for role in SUPERVISORS:
        hub.on_connect(role, current)
    # Only the latest board matters: a short queue, so a stalled push cannot pile up.
    subscription = runtime.bus.subscribe(BoardChanged, push, name="board-push", maxsize=16)
    try:
        yield
    finally:
        await subscription.close()
        await board.stop()
