"""The supervisor's page: the live board (``/supervisor``, kept current over ``/ws``).

The admins' users page is ``users_admin.py``."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from web_console.access import SUPERVISORS, allow
from web_console.keys import AMI_HEALTH, BOARD
from web_console.pages import page

routes = web.RouteTableDef()


@routes.get("/supervisor")
@allow(SUPERVISORS)
@page("supervisor.html")
async def supervisor_board(request: web.Request) -> dict[str, Any]:
    # The page carries the board as it is now; board.js then follows it live over /ws.
    return {"ami": request.app[AMI_HEALTH].health(), "board": request.app[BOARD].snapshot()}
