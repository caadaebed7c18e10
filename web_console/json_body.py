"""Reading JSON request bodies field by field: every refusal names the field.

A body that cannot be read at all (not JSON, nested past :data:`MAX_DEPTH`, a string holding a
NUL or half a surrogate pair) is a 400 naming the field it is in; a field that breaks a rule of
the route is a 422.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from aiohttp import web

from hcrm_core.errors import ValidationFailed
from web_console.input_text import BadInput, check_text

MAX_BODY = 64 * 1024
# Deeper than any body the console sends (campaign settings are the deepest, at 4 levels); the
# parser itself would recurse until Python's limit on 64 KiB of '['.
MAX_DEPTH = 16


class Body:
    """A JSON object from the request; unknown fields are refused by :meth:`done`."""

    def __init__(self, values: dict[str, Any]) -> None:
        self._values = values
        self._read: set[str] = set()

    def present(self, name: str) -> bool:
        """Whether the body has ``name`` at all (null included: null may mean "clear it")."""
        return name in self._values

    def _get(self, name: str) -> Any:
        self._read.add(name)
        return self._values.get(name)

    def text(self, name: str, *, required: bool = False, max_length: int = 200) -> str | None:
        value = self._get(name)
        if value is None or (isinstance(value, str) and not value.strip() and required):
            if required:
                raise ValidationFailed(name, "is required")
            return None
        if not isinstance(value, str):
            raise ValidationFailed(name, "must be a string")
        if len(value) > max_length:
            raise ValidationFailed(name, f"at most {max_length} characters")
        return value

    def required_text(self, name: str, *, max_length: int = 200) -> str:
        value = self.text(name, required=True, max_length=max_length)
        assert value is not None
        return value

    def integer(self, name: str, *, required: bool = False) -> int | None:
        value = self._get(name)
        if value is None:
            if required:
                raise ValidationFailed(name, "is required")
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**53:
            raise ValidationFailed(name, "must be a positive whole number")
        return value

    def required_int(self, name: str) -> int:
        value = self.integer(name, required=True)
        assert value is not None
        return value

    def boolean(self, name: str) -> bool | None:
        value = self._get(name)
        if value is None:
            return None
        if not isinstance(value, bool):
            raise ValidationFailed(name, "must be true or false")
        return value

    def day(self, name: str, *, required: bool = False) -> date | None:
        value = self.text(name, required=required, max_length=10)
        if value is None:
            return None
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise ValidationFailed(name, "must be a date like 1961-04-02") from None

    def done(self) -> None:
        """Refuse fields the route does not know (a typo must not be silently ignored)."""
        for name in self._values:
            if name not in self._read:
                raise ValidationFailed(name, "unknown field")


async def read_body(request: web.Request) -> Body:
    """The request's JSON object (an empty body is an empty object)."""
    raw = await request.content.read(MAX_BODY + 1)
    if len(raw) > MAX_BODY:
        raise ValidationFailed("body", f"at most {MAX_BODY} bytes")
    if not raw.strip():
        return Body({})
    values = parse_json(raw, "body")
    if not isinstance(values, dict):
        raise ValidationFailed("body", "must be a JSON object")
    return Body(values)


def parse_json(raw: str | bytes, field: str) -> Any:
    """``raw`` parsed, or :class:`BadInput` naming ``field`` (or the object's field at fault).

    Strings are checked here, once, for every route: a NUL or a lone surrogate would pass
    SQLite and break PostgreSQL (or the UTF-8 encoder) far from the request.
    """
    try:
        value = json.loads(raw)
    except RecursionError:
        raise BadInput(field, f"nested deeper than {MAX_DEPTH} levels") from None
    except ValueError:  # UnicodeDecodeError included: the bytes are not UTF-8
        raise BadInput(field, "is not valid JSON") from None
    check_parsed(value, field)
    return value


def check_parsed(value: Any, field: str) -> None:
    """Refuse parsed JSON nested past :data:`MAX_DEPTH` or holding a bad string (a 400).

    An object's own fields are named in the refusal; anything deeper is named by ``field``.
    """
    _check_values(value, field, 0, top=True)


def _check_values(value: Any, field: str, depth: int, *, top: bool = False) -> None:
    if depth > MAX_DEPTH:
        raise BadInput(field, f"nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, str):
        check_text(value, field)
    elif isinstance(value, dict):
        for key, item in value.items():
            check_text(key, field)
            _check_values(item, key if top else field, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check_values(item, field, depth + 1)
