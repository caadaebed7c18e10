"""The aiohttp application: console pages, the JSON API, health and metrics."""

from __future__ import annotations

import time
from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web

from callcenter.server.runtime import Runtime
from web_console import ws
from web_console.access import access_middleware, csrf_middleware, session_middleware
from web_console.board_push import add_board
from web_console.desk_relay import desk_relay_context
from web_console.desk_sessions import add_desk_sessions
from web_console.errors import error_middleware, headers_middleware
from web_console.keys import RUNTIME, SESSIONS, THROTTLE, WS_HUB
from web_console.routes import (
    api,
    appointments_api,
    auth,
    calls_api,
    campaigns,
    desk,
    health,
    home,
    patients,
    recordings,
    recordings_media,
    supervisor,
)
from web_console.sessions import Clock, SessionStore
from web_console.throttle import LoginThrottle
from web_console.ws import WsHub, hub_context

TEMPLATES = Path(__file__).with_name("templates")
STATIC = Path(__file__).with_name("static")


def create_app(
    runtime: Runtime,
    *,
    clock: Clock = time.monotonic,
    throttle: LoginThrottle | None = None,
) -> web.Application:
    """The console for one running server; ``clock`` and ``throttle`` are for tests."""
    app = web.Application(
        middlewares=[
            headers_middleware,
            error_middleware,
            session_middleware,
            access_middleware,
            csrf_middleware,
        ]
    )
    app[RUNTIME] = runtime
    app[SESSIONS] = SessionStore(runtime.settings.web.session_idle_minutes * 60, clock)
    app[THROTTLE] = throttle or LoginThrottle(clock=clock)
    app[WS_HUB] = WsHub()
    app.cleanup_ctx.append(hub_context)
    app.cleanup_ctx.append(desk_relay_context)
    add_desk_sessions(app)
    add_board(app)
    aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(["html", "xml"], default=True),
    )
    for module in (health, auth, home, patients, supervisor, api, ws):
        app.add_routes(module.routes)
    for module in (desk, appointments_api, calls_api):
        app.add_routes(module.routes)
    app.add_routes([*recordings.routes, *recordings_media.routes])
    app.add_routes(campaigns.routes)
    app.router.add_static("/static", STATIC)
    return app
