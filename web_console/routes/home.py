"""The placeholder home page (the agent desk and supervisor board replace it)."""

from __future__ import annotations

import aiohttp_jinja2
from aiohttp import web

from web_console.keys import RUNTIME

routes = web.RouteTableDef()


@routes.get("/")
@aiohttp_jinja2.template("home.html")
async def home(request: web.Request) -> dict[str, object]:
    runtime = request.app[RUNTIME]
    return {
        "hospital": runtime.settings.hospital.name,
        "ami": runtime.ami.health(),
        "engine": runtime.database.dialect,
    }
