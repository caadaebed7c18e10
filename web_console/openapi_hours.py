"""OpenAPI paths of opening hours, holidays and after-hours requests
(web_console/routes/hours_api.py): supervisors and admins read and change them."""

from __future__ import annotations

from typing import Any

_ERROR = {"$ref": "#/components/schemas/Error"}
_TEXT = {
    400: "The body is not a JSON object, or a string in it is not valid text",
    401: "Not logged in",
    403: "Not allowed for this role, or a missing CSRF token",
    404: "No such holiday",
    422: "A field is invalid (closing before opening, overlapping intervals, an unknown "
    "weekday, a holiday on a day already past...); `field` names it",
}
_QUEUE = {
    "name": "queue",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"},
}
_HOLIDAY_ID = {"name": "holiday_id", "in": "path", "required": True, "schema": {"type": "integer"}}
_CLOCK = {"type": "string", "pattern": "^[0-9]{1,2}:[0-9]{2}$"}
_WEEKDAY = {
    "description": "monday..sunday (or mon..sun), or 0..6 with Monday 0",
    "oneOf": [
        {"type": "string"},
        {"type": "integer", "minimum": 0, "maximum": 6},
    ],
}
_OPTIONS: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "emergency_digit": {
            "type": ["string", "null"],
            "enum": ["3", "4", "5", "6", "7", "8", "9", None],
            "description": "The key that transfers to emergency_number; both or neither",
        },
        "emergency_number": {"type": ["string", "null"], "description": "E.164"},
        "voicemail": {"type": "boolean", "description": "Key 1: leave a message (default)"},
        "callback": {"type": "boolean", "description": "Key 2: be called back (default)"},
        "closed_messages": {
            "type": "object",
            "description": "The queue's own closed message per prompt language (en, zh), said "
            "instead of the standard one once `callcenter prompts build` has rendered it",
            "additionalProperties": {"type": "string", "maxLength": 300},
        },
    },
}
SCHEMAS: dict[str, Any] = {
    "OpeningInterval": {
        "type": "object",
        "required": ["weekday", "opens", "closes"],
        "additionalProperties": False,
        "properties": {
            "id": {"type": "integer", "readOnly": True},
            "weekday": _WEEKDAY,
            "opens": {**_CLOCK, "description": "Local time, 00:00-23:59"},
            "closes": {**_CLOCK, "description": "Local time after opens; 24:00 is midnight"},
        },
    },
    "QueueHours": {
        "type": "object",
        "properties": {
            "queue": {"type": "string"},
            "always_open": {"type": "boolean", "description": "No hours set: always open"},
            "open_now": {"type": "boolean"},
            "next_opening": {"type": ["string", "null"], "format": "date-time"},
            "intervals": {
                "type": "array",
                "items": {"$ref": "#/components/schemas/OpeningInterval"},
            },
            "closed_options": {"$ref": "#/components/schemas/ClosedOptions"},
        },
    },
    "ClosedOptions": _OPTIONS,
    "Holiday": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "day": {"type": "string", "format": "date"},
            "name": {"type": "string"},
            "queue": {"type": ["string", "null"], "description": "null: every queue"},
        },
    },
    "AfterHoursRequest": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "kind": {"type": "string", "enum": ["voicemail", "callback"]},
            "queue": {"type": "string"},
            "caller_number": {"type": "string"},
            "patient_id": {"type": ["integer", "null"]},
            "has_recording": {"type": "boolean"},
            "status": {"type": "string", "enum": ["open", "done"]},
            "task_id": {"type": ["integer", "null"], "description": "The follow-up task"},
            "created_at": {"type": "string", "format": "date-time"},
        },
    },
}


def _errors(*codes: int) -> dict[str, Any]:
    return {
        str(code): {"description": _TEXT[code], "content": {"application/json": {"schema": _ERROR}}}
        for code in codes
    }


def _ok(schema: dict[str, Any], description: str, status: str = "200") -> dict[str, Any]:
    return {
        status: {"description": description, "content": {"application/json": {"schema": schema}}}
    }


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _list(key: str, name: str) -> dict[str, Any]:
    return {"type": "object", "properties": {key: {"type": "array", "items": _ref(name)}}}


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _op(summary: str, **rest: Any) -> dict[str, Any]:
    roles = ["supervisor", "admin"]
    return {"summary": summary, "x-roles": roles, "security": [{"session": []}], **rest}


def add_hours_paths(document: dict[str, Any]) -> dict[str, Any]:
    """Add /api/v1/opening-hours, /api/v1/holidays and /api/v1/after-hours-requests."""
    components = document["components"]
    components["schemas"] = {**components["schemas"], **SCHEMAS}
    paths = document["paths"]
    week = {
        "type": "object",
        "required": ["intervals"],
        "additionalProperties": False,
        "properties": {"intervals": {"type": "array", "items": _ref("OpeningInterval")}},
    }
    paths["/api/v1/opening-hours"] = {
        "get": _op(
            "Every queue that keeps hours or closed options (a queue not listed is always "
            "open), with the hospital's time zone",
            responses={
                **_ok(
                    {
                        "type": "object",
                        "properties": {
                            "timezone": {"type": "string"},
                            "queues": {"type": "array", "items": _ref("QueueHours")},
                        },
                    },
                    "The queues' hours",
                ),
                **_errors(401, 403, 422),
            },
        )
    }
    paths["/api/v1/opening-hours/{queue}"] = {
        "get": _op(
            "One queue's week, whether it is open now and when it opens next",
            parameters=[_QUEUE],
            responses={**_ok(_ref("QueueHours"), "The queue's hours"), **_errors(401, 403, 422)},
        ),
        "put": _op(
            "Replace the queue's week (audited; no intervals: always open again)",
            parameters=[_QUEUE],
            requestBody=_body(week),
            responses={**_ok(_ref("QueueHours"), "The new week"), **_errors(400, 401, 403, 422)},
        ),
    }
    paths["/api/v1/opening-hours/{queue}/closed-options"] = {
        "put": _op(
            "What callers may do while the queue is closed (audited)",
            parameters=[_QUEUE],
            requestBody=_body(_OPTIONS),
            responses={**_ok(_OPTIONS, "The options kept"), **_errors(400, 401, 403, 422)},
        )
    }
    paths["/api/v1/holidays"] = {
        "get": _op(
            "Holidays from today (include_past=true: all)",
            parameters=[
                {
                    "name": "include_past",
                    "in": "query",
                    "schema": {"type": "string", "enum": ["true", "false"]},
                }
            ],
            responses={
                **_ok(_list("holidays", "Holiday"), "The holidays"),
                **_errors(401, 403, 422),
            },
        ),
        "post": _op(
            "Add a holiday (audited); never on a day already past",
            requestBody=_body(
                {
                    "type": "object",
                    "required": ["day", "name"],
                    "additionalProperties": False,
                    "properties": {
                        "day": {"type": "string", "format": "date"},
                        "name": {"type": "string", "maxLength": 120},
                        "queue": {"type": ["string", "null"], "description": "null: every queue"},
                    },
                }
            ),
            responses={**_ok(_ref("Holiday"), "Added", "201"), **_errors(400, 401, 403, 422)},
        ),
    }
    paths["/api/v1/holidays/{holiday_id}"] = {
        "delete": _op(
            "Remove a holiday (audited)",
            parameters=[_HOLIDAY_ID],
            responses={"204": {"description": "Removed"}, **_errors(401, 403, 404, 422)},
        )
    }
    paths["/api/v1/after-hours-requests"] = {
        "get": _op(
            "Voicemails and call-back requests left while queues were closed, newest first",
            parameters=[
                {
                    "name": "limit",
                    "in": "query",
                    "schema": {"type": "integer", "minimum": 1, "maximum": 500, "default": 100},
                }
            ],
            responses={
                **_ok(_list("requests", "AfterHoursRequest"), "The requests"),
                **_errors(401, 403, 422),
            },
        )
    }
    return document
