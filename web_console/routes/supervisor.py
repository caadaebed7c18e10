"""Supervisor and admin pages: the live board (``/supervisor``, kept current over ``/ws``)."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy import select

from hcrm_core.models import User
from web_console.access import ADMINS, SUPERVISORS, allow
from web_console.keys import AMI_HEALTH, BOARD, DATABASE
from web_console.pages import page

routes = web.RouteTableDef()


@routes.get("/supervisor")
@allow(SUPERVISORS)
@page("supervisor.html")
async def supervisor_board(request: web.Request) -> dict[str, Any]:
    # The page carries the board as it is now; board.js then follows it live over /ws.
    return {"ami": request.app[AMI_HEALTH].health(), "board": request.app[BOARD].snapshot()}


@routes.get("/admin/users")
@allow(ADMINS)
@page("admin_users.html")
async def admin_users(request: web.Request) -> dict[str, Any]:
    async with request.app[DATABASE].session() as session:
        users = list(await session.scalars(select(User).order_by(User.username)))
    return {"users": users}
