"""What the queue pages and the queue API share: reading a queue's fields, and applying a
change to Asterisk (queues.conf re-rendered and reloaded, agents moved to their queues)."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from callcenter.errors import CallcenterError
from hcrm_core.errors import ValidationFailed
from hcrm_core.services.queues import Members, QueueSettings
from web_console.json_body import Body, read_body
from web_console.keys import DESK

_LOG = logging.getLogger(__name__)
INTEGER_FIELDS = ("ring_timeout", "wrapup_seconds", "max_wait_seconds", "announce_frequency")
BOOLEAN_FIELDS = ("announce_position", "announce_holdtime", "active")
TEXT_FIELDS = ("display_name", "strategy", "overflow", "overflow_queue", "menu_digit")


_KINDS = {int: "user ids (whole numbers)", str: "names (strings)"}


class QueueBody(Body):
    """A JSON body with the queue API's own field kinds (zero is a valid number of seconds)."""

    def seconds(self, name: str) -> int | None:
        value = self._get(name)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValidationFailed(name, "must be a whole number of seconds (0 or more)")
        return value

    def names(self, name: str, kind: type) -> list[Any]:
        value = self._get(name)
        if value is None:
            return []
        if not isinstance(value, list) or not all(
            isinstance(v, kind) and not isinstance(v, bool) for v in value
        ):
            raise ValidationFailed(name, f"must be a list of {_KINDS[kind]}")
        return value

    def settings(self) -> QueueSettings:
        values: dict[str, Any] = {}
        for name in TEXT_FIELDS:
            values[name] = self.text(name, max_length=100)
            if name in ("overflow_queue", "menu_digit") and self.present(name) and not values[name]:
                values[name] = ""  # null or "" clears it
        for name in INTEGER_FIELDS:
            values[name] = self.seconds(name)
        for name in BOOLEAN_FIELDS:
            values[name] = self.boolean(name)
        return QueueSettings(**values)

    def members(self) -> Members:
        value = self._get("members")
        if not isinstance(value, dict):
            raise ValidationFailed("members", "an object: {everyone, agents, skills}")
        inner = QueueBody(value)
        try:
            everyone = inner.boolean("everyone") or False
            agents = tuple(inner.names("agents", int))
            skills = tuple(inner.names("skills", str))
            inner.done()
        except ValidationFailed as exc:
            raise ValidationFailed(f"members.{exc.field}", exc.message) from None
        return Members(everyone, agents, skills)


async def read_queue_body(request: web.Request) -> QueueBody:
    """The request's JSON object, read with the queue fields' rules."""
    return QueueBody((await read_body(request))._values)


async def read_members(request: web.Request) -> Members:
    """The request's JSON object as a queue's members: {everyone, agents, skills}."""
    return QueueBody({"members": (await read_body(request))._values}).members()


async def apply_queues(request: web.Request) -> dict[str, Any]:
    """Apply the stored queues to Asterisk now; what happened, for the answer or the page."""
    config = request.app[DESK].queue_config
    try:
        applied = await config.apply()
    except CallcenterError as exc:
        _LOG.warning("queues saved but not applied: %s", exc)
        return {"applied": False, "apply_error": str(exc)}
    if not applied:
        return {
            "applied": False,
            "apply_error": "asterisk.config_dir is not set: run `callcenter asterisk render` "
            "and reload the queues",
        }
    return {"applied": True, "apply_error": None}
