"""Typed application state keys."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from callcenter.server import Runtime

RUNTIME: web.AppKey[Runtime] = web.AppKey("runtime")
