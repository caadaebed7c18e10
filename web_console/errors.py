"""Errors translated once: domain errors to their HTTP status, anything unexpected to a 500.

Nothing here logs a message or a value that could carry patient details: an unexpected error
is logged with its type, route and stack frames only.
"""

from __future__ import annotations

import logging
import traceback

from aiohttp import web

from hcrm_core.errors import DomainError, FieldErrors, ValidationFailed
from web_console.access import Handler, is_api
from web_console.pages import render

_LOG = logging.getLogger(__name__)

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


def error_body(code: str, message: str, field: str | None = None) -> dict[str, str | None]:
    return {"error": code, "message": message, "field": field}


def _domain_response(request: web.Request, exc: DomainError) -> web.StreamResponse:
    field = exc.field if isinstance(exc, ValidationFailed) else None
    if is_api(request):
        body: dict[str, object] = {**error_body(exc.code, exc.message, field)}
        if isinstance(exc, FieldErrors):
            body["fields"] = exc.errors  # every field at fault, for a form to show at once
        return web.json_response(body, status=exc.http_status)
    return render(
        request,
        "error.html",
        {"status": exc.http_status, "message": exc.message},
        status=exc.http_status,
    )


def _http_error_response(request: web.Request, exc: web.HTTPException) -> web.StreamResponse:
    if exc.status < 400:
        raise exc  # redirects pass through untouched
    message = exc.text if exc.text and exc.content_type == "text/plain" else exc.reason
    if is_api(request):
        code = exc.reason.lower().replace(" ", "_")
        return web.json_response(error_body(code, message or exc.reason), status=exc.status)
    # A page keeps the console's header (who is logged in, log out) around the message.
    return render(
        request, "error.html", {"status": exc.status, "message": message}, status=exc.status
    )


def _log_unexpected(request: web.Request, exc: Exception) -> None:
    # The exception's message may quote SQL parameters or request data: frames only.
    resource = request.match_info.route.resource
    route = resource.canonical if resource is not None else "?"
    frames = "".join(traceback.format_tb(exc.__traceback__))
    _LOG.error("unexpected %s on %s %s\n%s", type(exc).__name__, request.method, route, frames)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except DomainError as exc:
        return _domain_response(request, exc)
    except web.HTTPException as exc:
        return _http_error_response(request, exc)
    except Exception as exc:
        _log_unexpected(request, exc)
        if is_api(request):
            body = error_body("internal_error", "something went wrong; it has been logged")
            return web.json_response(body, status=500)
        return web.Response(text="Something went wrong; it has been logged.", status=500)


@web.middleware
async def headers_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Security headers everywhere; pages and API answers (patient data) are never cached."""
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        exc.headers.update(SECURITY_HEADERS)
        raise
    response.headers.update(SECURITY_HEADERS)
    if not request.path.startswith("/static/"):
        response.headers.setdefault("Cache-Control", "no-store")
    return response
