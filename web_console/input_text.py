"""Text the console accepts: no NUL, no lone surrogate, in any query, form or JSON field.

Both pass SQLite and fail later elsewhere: PostgreSQL refuses a NUL in text (a 500 after the
work is half done), and a lone surrogate cannot be encoded as UTF-8 (by the driver, a log
line or the next JSON answer). They are refused at the edge, as a 400 naming the field.
"""

from __future__ import annotations

import re

from aiohttp import web

from hcrm_core.errors import ValidationFailed
from web_console.access import Handler

_FORBIDDEN = re.compile("[\x00\ud800-\udfff]")
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class BadInput(ValidationFailed):
    """A request the console cannot read (as opposed to a field that breaks a rule)."""

    code = "bad_input"
    http_status = 400


def check_text(value: str, field: str) -> None:
    """Raise :class:`BadInput` naming ``field`` when ``value`` holds a NUL or a lone surrogate."""
    found = _FORBIDDEN.search(value)
    if found is None:
        return
    if found.group() == "\x00":
        raise BadInput(field, "must not contain a NUL character")
    raise BadInput(field, "contains an invalid character (a lone UTF-16 surrogate)")


async def _check_form(request: web.Request) -> None:
    try:
        form = await request.post()  # cached on the request: the handler reads it again
    except (UnicodeDecodeError, ValueError):
        raise BadInput("body", "is not a readable form (UTF-8 expected)") from None
    for name, value in form.items():
        check_text(name, "body")  # checked first: a bad name is not echoed as the field
        if isinstance(value, str):
            check_text(value, name)


@web.middleware
async def input_text_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Query parameters and form fields checked with :func:`check_text` before any handler."""
    for name, value in request.query.items():
        check_text(name, "query")
        check_text(value, name)
    if request.method == "POST" and request.content_type in _FORM_TYPES:
        await _check_form(request)
    return await handler(request)
