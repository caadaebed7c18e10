"""Rendering console pages: every template sees the user and the CSRF token for its forms."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from web_console.access import current_session
from web_console.keys import CSRF_FIELD

PageHandler = Callable[[web.Request], Awaitable[Mapping[str, Any]]]
Rendered = Callable[[web.Request], Awaitable[web.Response]]


def render(
    request: web.Request, template: str, context: Mapping[str, Any], *, status: int = 200
) -> web.Response:
    session = current_session(request)
    base: dict[str, Any] = {
        "user": session,
        "csrf_field": CSRF_FIELD,
        "csrf_token": session.csrf_token if session else "",
    }
    return aiohttp_jinja2.render_template(template, request, {**base, **context}, status=status)


def page(
    template: str,
) -> Callable[[PageHandler], Callable[[web.Request], Awaitable[web.Response]]]:
    """Turn a handler returning a context into one rendering ``template`` with it."""

    def wrap(handler: PageHandler) -> Rendered:
        @functools.wraps(handler)
        async def render_page(request: web.Request) -> web.Response:
            return render(request, template, await handler(request))

        return render_page

    return wrap
