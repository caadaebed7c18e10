"""OpenAPI paths of the call queues (web_console/routes/queues_api.py): admins change,
supervisors read."""

from __future__ import annotations

from typing import Any

_ERROR = {"$ref": "#/components/schemas/Error"}
_QUEUE = {"$ref": "#/components/schemas/CallQueue"}
_MEMBERS = {"$ref": "#/components/schemas/QueueMembers"}
_TEXT = {
    400: "The body is not a JSON object, or a string in it is not valid text",
    401: "Not logged in",
    403: "Not allowed for this role, or a missing CSRF token",
    404: "No such queue",
    409: "A queue of that name exists already",
    422: "A field is invalid (a bad name, a key another active queue uses, an active queue "
    "without members...); `field` names it",
}
_NAME = {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}
_USER_ID = {"name": "user_id", "in": "path", "required": True, "schema": {"type": "integer"}}
_STRATEGY = {
    "type": "string",
    "enum": [
        "ringall",
        "leastrecent",
        "fewestcalls",
        "random",
        "rrmemory",
        "rrordered",
        "linear",
        "wrandom",
    ],
}
_SETTINGS: dict[str, Any] = {
    "display_name": {"type": "string", "maxLength": 100},
    "strategy": _STRATEGY,
    "ring_timeout": {"type": "integer", "minimum": 1, "maximum": 300},
    "wrapup_seconds": {"type": "integer", "minimum": 0, "maximum": 3600},
    "max_wait_seconds": {
        "type": "integer",
        "minimum": 0,
        "maximum": 86400,
        "description": "0: callers wait until answered",
    },
    "overflow": {
        "type": "string",
        "enum": ["hangup", "queue", "message"],
        "description": "Past max_wait_seconds: a message and hang up, overflow_queue, or "
        "the IVR's leave-a-message / call-me-back menu",
    },
    "overflow_queue": {"type": ["string", "null"]},
    "announce_position": {"type": "boolean"},
    "announce_holdtime": {"type": "boolean"},
    "announce_frequency": {"type": "integer", "minimum": 0, "maximum": 3600},
    "menu_digit": {
        "type": ["string", "null"],
        "enum": ["0", "3", "4", "5", "6", "7", "8", "9", "", None],
        "description": "The IVR key: 0 is the agent key (pressed anywhere), 3-9 main-menu "
        "keys; unique among active queues",
    },
    "active": {"type": "boolean"},
}
_APPLIED = {
    "applied": {
        "type": "boolean",
        "description": "Asterisk has the change (queues.conf re-rendered, QueueReload sent)",
    },
    "apply_error": {"type": ["string", "null"]},
}
SCHEMAS: dict[str, Any] = {
    "QueueMembers": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "everyone": {"type": "boolean", "description": "Every agent answers the queue"},
            "agents": {"type": "array", "items": {"type": "integer"}, "description": "User ids"},
            "skills": {"type": "array", "items": {"type": "string"}},
        },
    },
    "CallQueue": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "name": {"type": "string", "pattern": "^[a-z][a-z0-9_-]{1,31}$"},
            **_SETTINGS,
            "members": _MEMBERS,
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


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _applied(schema: dict[str, Any]) -> dict[str, Any]:
    return {"allOf": [schema, {"type": "object", "properties": _APPLIED}]}


def _op(summary: str, roles: list[str], **rest: Any) -> dict[str, Any]:
    return {"summary": summary, "x-roles": roles, "security": [{"session": []}], **rest}


def add_queues_paths(document: dict[str, Any]) -> dict[str, Any]:
    """Add the /api/v1/queues and /api/v1/skills paths and their schemas; return it."""
    readers, admins = ["supervisor", "admin"], ["admin"]
    components = document["components"]
    components["schemas"] = {**components["schemas"], **SCHEMAS}
    paths = document["paths"]
    settings = {"type": "object", "additionalProperties": False, "properties": _SETTINGS}
    paths["/api/v1/queues"] = {
        "get": _op(
            "Call queues with their members, by name",
            readers,
            responses={
                **_ok(
                    {
                        "type": "object",
                        "properties": {"queues": {"type": "array", "items": _QUEUE}},
                    },
                    "The queues",
                ),
                **_errors(401, 403, 422),
            },
        ),
        "post": _op(
            "Create a queue (audited) and apply it to Asterisk",
            admins,
            requestBody=_body(
                {
                    "type": "object",
                    "required": ["name", "display_name"],
                    "additionalProperties": False,
                    "properties": {
                        "name": {"type": "string", "pattern": "^[a-z][a-z0-9_-]{1,31}$"},
                        **_SETTINGS,
                        "members": _MEMBERS,
                    },
                }
            ),
            responses={
                **_ok(_applied(_QUEUE), "Created", "201"),
                **_errors(400, 401, 403, 409, 422),
            },
        ),
    }
    paths["/api/v1/queues/{name}"] = {
        "get": _op(
            "One queue",
            readers,
            parameters=[_NAME],
            responses={**_ok(_QUEUE, "The queue"), **_errors(401, 403, 404, 422)},
        ),
        "patch": _op(
            "Change a queue's settings (audited) and apply them to Asterisk; callers waiting "
            "keep their place",
            admins,
            parameters=[_NAME],
            requestBody=_body(settings),
            responses={**_ok(_applied(_QUEUE), "The queue"), **_errors(400, 401, 403, 404, 422)},
        ),
    }
    paths["/api/v1/queues/{name}/members"] = {
        "get": _op(
            "Who answers the queue",
            readers,
            parameters=[_NAME],
            responses={**_ok(_MEMBERS, "The members"), **_errors(401, 403, 404, 422)},
        ),
        "put": _op(
            "Replace the queue's members (audited); an active queue needs at least one",
            admins,
            parameters=[_NAME],
            requestBody=_body(_MEMBERS),
            responses={**_ok(_applied(_QUEUE), "The queue"), **_errors(400, 401, 403, 404, 422)},
        ),
    }
    paths["/api/v1/skills"] = {
        "get": _op(
            "Skills, and each agent's skills by user id",
            readers,
            responses={**_ok({"type": "object"}, "Skills and agents"), **_errors(401, 403, 422)},
        )
    }
    paths["/api/v1/skills/{user_id}"] = {
        "put": _op(
            "Replace an agent's skills (audited; new names are created); they then answer the "
            "queues of those skills",
            admins,
            parameters=[_USER_ID],
            requestBody=_body(
                {
                    "type": "object",
                    "required": ["skills"],
                    "additionalProperties": False,
                    "properties": {"skills": {"type": "array", "items": {"type": "string"}}},
                }
            ),
            responses={
                **_ok({"type": "object"}, "The agent's skills"),
                **_errors(400, 401, 403, 422),
            },
        )
    }
    return document
