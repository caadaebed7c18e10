"""OpenAPI paths of the console users (web_console/routes/users_api.py): admins only."""

from __future__ import annotations

from typing import Any

_ERROR = {"$ref": "#/components/schemas/Error"}
_USER = {"$ref": "#/components/schemas/ConsoleUser"}
_TEXT = {
    400: "The body is not a JSON object, or a string in it is not valid text",
    401: "Not logged in",
    403: "Not an admin, missing CSRF token, or the caller must change a temporary password "
    "first (`error`: `password_change_required`)",
    404: "No such user",
    409: "The username or extension is held by another (active) user; `field` names it",
    422: "A field is invalid; `field` names it",
}
_USER_ID = {"name": "user_id", "in": "path", "required": True, "schema": {"type": "integer"}}
_EXTENSION = {"type": ["string", "null"], "pattern": "^[0-9]{2,8}$"}
_ROLE = {"type": "string", "enum": ["agent", "supervisor", "admin"]}
_TEMPORARY = {
    "type": ["string", "null"],
    "description": "The generated temporary password: shown once, never stored in clear",
}

SCHEMAS: dict[str, Any] = {
    "ConsoleUser": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "username": {"type": "string"},
            "display_name": {"type": "string"},
            "role": _ROLE,
            "extension": _EXTENSION,
            "active": {"type": "boolean"},
            "must_change_password": {
                "type": "boolean",
                "description": "The password was set by an admin: the user must change it at "
                "next login before doing anything else",
            },
            "created_at": {"type": "string", "format": "date-time"},
            "last_login_at": {"type": ["string", "null"], "format": "date-time"},
            "password_changed_at": {"type": ["string", "null"], "format": "date-time"},
        },
    }
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


def _with(extra: dict[str, Any]) -> dict[str, Any]:
    return {"allOf": [_USER, {"type": "object", "properties": extra}]}


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _empty_post(summary: str, description: str, answer: dict[str, Any]) -> dict[str, Any]:
    return {
        "post": {
            "summary": summary,
            "description": description,
            "x-roles": ["admin"],
            "security": [{"session": []}],
            "parameters": [_USER_ID],
            "requestBody": {
                "required": False,
                "content": {
                    "application/json": {
                        "schema": {"type": "object", "additionalProperties": False}
                    }
                },
            },
            "responses": {**answer, **_errors(400, 401, 403, 404, 409, 422)},
        }
    }


def add_users_paths(document: dict[str, Any]) -> dict[str, Any]:
    """Add the /api/v1/users paths and the ConsoleUser schema to ``document``; return it."""
    admins: list[dict[str, list[str]]] = [{"session": []}]
    components = document["components"]
    components["schemas"] = {**components["schemas"], **SCHEMAS}
    paths = document["paths"]
    paths["/api/v1/users"] = {
        "get": {
            "summary": "Console users (admins; supervisors and agents get 403)",
            "x-roles": ["admin"],
            "security": admins,
            "responses": {
                **_ok(
                    {"type": "object", "properties": {"users": {"type": "array", "items": _USER}}},
                    "Every user, active or not, by username",
                ),
                **_errors(401, 403, 422),
            },
        },
        "post": {
            "summary": "Create a user (audited); they must change the password at first login",
            "description": "Without `password` a temporary one is generated and answered once "
            "in `temporary_password`. A typed password follows the strength rule (at least 12 "
            "characters, not the username).",
            "x-roles": ["admin"],
            "security": admins,
            "requestBody": _body(
                {
                    "type": "object",
                    "required": ["username", "role"],
                    "additionalProperties": False,
                    "properties": {
                        "username": {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,64}$"},
                        "display_name": {"type": ["string", "null"], "maxLength": 120},
                        "role": _ROLE,
                        "extension": _EXTENSION,
                        "password": {"type": ["string", "null"], "minLength": 12},
                    },
                }
            ),
            "responses": {
                **_ok(_with({"temporary_password": _TEMPORARY}), "Created", "201"),
                **_errors(400, 401, 403, 409, 422),
            },
        },
    }
    paths["/api/v1/users/{user_id}"] = {
        "get": {
            "summary": "One console user",
            "x-roles": ["admin"],
            "security": admins,
            "parameters": [_USER_ID],
            "responses": {**_ok(_USER, "The user"), **_errors(401, 403, 404, 422)},
        },
        "patch": {
            "summary": "Change a user's display name, role or extension (audited; at once)",
            "description": "Give any of the fields. A new role applies to the user's open "
            "sessions at once (their websockets close and reconnect); a new extension signs "
            "them out of the queues if they were signed in on the old one (`null` clears it). "
            "The last active admin keeps the admin role.",
            "x-roles": ["admin"],
            "security": admins,
            "parameters": [_USER_ID],
            "requestBody": _body(
                {
                    "type": "object",
                    "minProperties": 1,
                    "additionalProperties": False,
                    "properties": {
                        "display_name": {"type": ["string", "null"], "maxLength": 120},
                        "role": _ROLE,
                        "extension": _EXTENSION,
                    },
                }
            ),
            "responses": {**_ok(_USER, "The user"), **_errors(400, 401, 403, 404, 409, 422)},
        },
    }
    paths["/api/v1/users/{user_id}/disable"] = _empty_post(
        "Disable a user (audited): their sessions end and websockets close at once",
        "They are signed out of the queues too. Refused (422, `field`: `active`) for oneself "
        "and for the last active admin.",
        _ok(_with({"sessions_ended": {"type": "integer"}}), "Disabled"),
    )
    paths["/api/v1/users/{user_id}/enable"] = _empty_post(
        "Enable a user again (audited)",
        "Refused (409, `field`: `extension`) when their extension was given to another active "
        "user meanwhile.",
        _ok(_USER, "Enabled"),
    )
    paths["/api/v1/users/{user_id}/reset-password"] = _empty_post(
        "Give a user a new temporary password (audited, never in clear)",
        "Answered once in `temporary_password`; the user's sessions end and they must choose "
        "their own password at next login. Not for oneself (422, `field`: `password`): use "
        "/account/password.",
        _ok(_with({"temporary_password": _TEMPORARY}), "Reset"),
    )
    return document
