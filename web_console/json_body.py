"""Reading JSON request bodies field by field: every refusal names the field (a 422)."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from aiohttp import web

from hcrm_core.errors import ValidationFailed

MAX_BODY = 64 * 1024


class Body:
    """A JSON object from the request; unknown fields are refused by :meth:`done`."""

    def __init__(self, values: dict[str, Any]) -> None:
        self._values = values
        self._read: set[str] = set()

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
    try:
        values = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ValidationFailed("body", "is not valid JSON") from None
    if not isinstance(values, dict):
        raise ValidationFailed("body", "must be a JSON object")
    return Body(values)
