"""The console home page: where a logged-in user starts, with the links of their role.

Technical details (database engine, the Asterisk link's state and error) are for admins only.
"""

from __future__ import annotations

from aiohttp import web

from web_console.access import STAFF, allow
from web_console.keys import AMI_HEALTH, DATABASE, SETTINGS
from web_console.pages import page

routes = web.RouteTableDef()


@routes.get("/")
@allow(STAFF)
@page("home.html")
async def home(request: web.Request) -> dict[str, object]:
    return {
        "hospital": request.app[SETTINGS].hospital.name,
        "ami": request.app[AMI_HEALTH].health(),
        "engine": request.app[DATABASE].dialect,
    }
