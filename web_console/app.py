"""The aiohttp application: console pages, the JSON API, health and metrics."""

from __future__ import annotations

import time
from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web

from callcenter.server import Runtime
from web_console.access import access_middleware, csrf_middleware, session_middleware
from web_console.errors import error_middleware, headers_middleware
from web_console.keys import RUNTIME, SESSIONS, THROTTLE
from web_console.routes import api, auth, health, home, patients, supervisor
from web_console.sessions import Clock, SessionStore
from web_console.throttle import LoginThrottle

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
    aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(["html", "xml"], default=True),
    )
    for module in (health, auth, home, patients, supervisor, api):
        app.add_routes(module.routes)
    app.router.add_static("/static", STATIC)
    return app
