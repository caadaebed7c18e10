"""The aiohttp application: console pages, health and metrics (the full console comes later)."""

from __future__ import annotations

from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web

from callcenter.server import Runtime
from web_console.keys import RUNTIME
from web_console.routes import health, home

TEMPLATES = Path(__file__).with_name("templates")


def create_app(runtime: Runtime) -> web.Application:
    app = web.Application()
    app[RUNTIME] = runtime
    aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(["html", "xml"], default=True),
    )
    app.add_routes(health.routes)
    app.add_routes(home.routes)
    return app
