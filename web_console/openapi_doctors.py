"""OpenAPI paths of departments, doctors, weekly sessions and exceptions
(web_console/routes/doctors_api.py)."""

from __future__ import annotations

from typing import Any

_ERROR = {"$ref": "#/components/schemas/Error"}
_TEXT = {
    400: "The body cannot be read (not JSON, bad characters); `field` names it",
    401: "Not logged in",
    403: "Role not allowed, or missing CSRF token",
    404: "No such department, doctor, session or exception",
    422: "A field breaks a rule; `field` names it",
}
_INT = {"type": "integer"}
_STR = {"type": "string"}
_NSTR = {"type": ["string", "null"]}
_TIME = {"type": "string", "pattern": "^([01]?[0-9]|2[0-3]):[0-5][0-9]$", "examples": ["09:30"]}
_DATE = {"type": ["string", "null"], "format": "date"}
_ADMIN = ["admin"]
_SUPERVISORS = ["supervisor", "admin"]
_AFFECTED = {
    "affected_appointments": {
        "type": "array",
        "items": _INT,
        "description": "Booked appointments the change left in conflict with the schedule "
        "(move or cancel them at /admin/schedule-conflicts)",
    },
    "conflicts_page": {"type": "string", "description": "present when any are affected"},
}

_SCHEMAS: dict[str, Any] = {
    "Department": {
        "type": "object",
        "properties": {
            "id": _INT,
            "code": _STR,
            "name": _STR,
            "names": {"type": "object", "additionalProperties": _STR},
            "synonyms": {"type": "array", "items": _STR},
            "menu_order": _INT,
            "active": {"type": "boolean"},
        },
    },
    "Doctor": {
        "type": "object",
        "properties": {
            "id": _INT,
            "department_id": _INT,
            "title": _STR,
            "given_name": _STR,
            "family_name": _STR,
            "name": _STR,
            "specialty": _STR,
            "active": {"type": "boolean"},
            "department": {"type": "object"},
        },
    },
    "WeeklySession": {
        "type": "object",
        "description": "A weekly schedule template, in the hospital's local time",
        "properties": {
            "id": _INT,
            "doctor_id": _INT,
            "weekday": {"type": "integer", "minimum": 0, "maximum": 6, "description": "0 Monday"},
            "start_time": _TIME,
            "end_time": _TIME,
            "slot_minutes": {"type": "integer", "minimum": 5, "maximum": 240},
            "location": _NSTR,
            "valid_from": _DATE,
            "valid_until": _DATE,
        },
    },
    "ScheduleException": {
        "type": "object",
        "properties": {
            "id": _INT,
            "doctor_id": _INT,
            "kind": {"enum": ["leave", "sick", "extra_session", "other"]},
            "starts_at": {"type": "string", "format": "date-time"},
            "ends_at": {"type": "string", "format": "date-time"},
            "local_start": _STR,
            "local_end": _STR,
            "slot_minutes": {"type": ["integer", "null"]},
            "location": _NSTR,
            "reason": _NSTR,
        },
    },
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _errors(*codes: int) -> dict[str, Any]:
    return {
        str(code): {"description": _TEXT[code], "content": {"application/json": {"schema": _ERROR}}}
        for code in codes
    }


def _ok(schema: dict[str, Any], description: str, status: int = 200) -> dict[str, Any]:
    return {
        str(status): {
            "description": description,
            "content": {"application/json": {"schema": schema}},
        }
    }


def _with_affected(name: str) -> dict[str, Any]:
    return {"allOf": [_ref(name), {"type": "object", "properties": _AFFECTED}]}


def _path(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": _INT}


def _body(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    schema = {
        "type": "object",
        "additionalProperties": False,
        "required": required,
        "properties": properties,
    }
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _op(summary: str, roles: list[str], responses: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {
        "summary": summary,
        "x-roles": roles,
        "security": [{"session": []}],
        "responses": responses,
        **more,
    }


_DEPARTMENT_FIELDS = {
    "code": {"type": "string", "maxLength": 16, "examples": ["CARD"]},
    "name": {"type": "string", "maxLength": 120},
    "names": {"type": "object", "additionalProperties": _STR, "examples": [{"zh": "心内科"}]},
    "synonyms": {"type": "array", "items": _STR},
    "menu_order": {"type": "integer", "minimum": 0, "maximum": 999},
}
_DOCTOR_FIELDS = {
    "department_id": _INT,
    "title": {"type": "string", "maxLength": 20},
    "given_name": {"type": "string", "maxLength": 100},
    "family_name": {"type": "string", "maxLength": 100},
    "specialty": {"type": "string", "maxLength": 120},
}
_SESSION_FIELDS = {
    "weekday": {"type": "integer", "minimum": 0, "maximum": 6},
    "start_time": _TIME,
    "end_time": _TIME,
    "slot_minutes": {
        "type": "integer",
        "minimum": 5,
        "maximum": 240,
        "description": "must divide the session",
    },
    "location": _NSTR,
    "valid_from": _DATE,
    "valid_until": _DATE,
}
_EXCEPTION_FIELDS = {
    "kind": {"enum": ["leave", "sick", "extra_session", "other"]},
    "starts_on": {"type": "string", "format": "date"},
    "ends_on": {**_DATE, "description": "last day (inclusive); empty: the first day only"},
    "start_time": {**_TIME, "description": "absence: empty for whole days; extra: required"},
    "end_time": _TIME,
    "slot_minutes": {"type": "integer", "description": "extra session only (required)"},
    "location": {**_NSTR, "description": "extra session only"},
    "reason": _NSTR,
}
_ACTIVE_FILTER = {
    "name": "active",
    "in": "query",
    "schema": {"enum": ["true", "false", "all"]},
    "description": "default all",
}


def _department_paths() -> dict[str, Any]:
    one = [_path("department_id")]
    return {
        "/api/v1/departments/{department_id}": {
            "get": _op(
                "A department, active or not",
                _SUPERVISORS,
                {**_ok(_ref("Department"), "The department"), **_errors(401, 403, 404, 422)},
                parameters=one,
            ),
            "patch": _op(
                "Edit a department (send only what changes; audited)",
                _ADMIN,
                {**_ok(_ref("Department"), "Saved"), **_errors(400, 401, 403, 404, 422)},
                parameters=one,
                requestBody=_body(_DEPARTMENT_FIELDS, []),
            ),
        },
        "/api/v1/departments/{department_id}/deactivate": {
            "post": _op(
                "Deactivate a department (refused, naming `active`, while it has active "
                "doctors; audited)",
                _ADMIN,
                {**_ok(_ref("Department"), "Deactivated"), **_errors(401, 403, 404, 422)},
                parameters=one,
            )
        },
        "/api/v1/departments/{department_id}/reactivate": {
            "post": _op(
                "Reactivate a department (audited)",
                _ADMIN,
                {**_ok(_ref("Department"), "Reactivated"), **_errors(401, 403, 404, 422)},
                parameters=one,
            )
        },
    }


def _doctor_paths() -> dict[str, Any]:
    one = [_path("doctor_id")]
    with_affected = _with_affected("Doctor")
    return {
        "/api/v1/doctors": {
            "get": _op(
                "Doctors by department, then name",
                _SUPERVISORS,
                {
                    **_ok({"type": "object"}, "`doctors`: a list of Doctor"),
                    **_errors(401, 403, 422),
                },
                parameters=[
                    {"name": "department_id", "in": "query", "schema": _INT},
                    _ACTIVE_FILTER,
                    {"name": "q", "in": "query", "schema": _STR, "description": "name, specialty"},
                ],
            ),
            "post": _op(
                "Create a doctor in an active department (audited)",
                _ADMIN,
                {**_ok(_ref("Doctor"), "Created", 201), **_errors(400, 401, 403, 422)},
                requestBody=_body(
                    _DOCTOR_FIELDS, ["department_id", "given_name", "family_name", "specialty"]
                ),
            ),
        },
        "/api/v1/doctors/{doctor_id}": {
            "get": _op(
                "A doctor with `templates` (weekly sessions) and `exceptions` not yet over",
                _SUPERVISORS,
                {**_ok(_ref("Doctor"), "The doctor"), **_errors(401, 403, 404, 422)},
                parameters=one,
            ),
            "patch": _op(
                "Edit a doctor (send only what changes); a new department takes their future "
                "slots along (audited)",
                _ADMIN,
                {**_ok(with_affected, "Saved"), **_errors(400, 401, 403, 404, 422)},
                parameters=one,
                requestBody=_body(_DOCTOR_FIELDS, []),
            ),
        },
        "/api/v1/doctors/{doctor_id}/deactivate": {
            "post": _op(
                "Deactivate a doctor: no longer bookable; their booked appointments are "
                "listed in `affected_appointments` (audited)",
                _ADMIN,
                {**_ok(with_affected, "Deactivated"), **_errors(401, 403, 404, 422)},
                parameters=one,
            )
        },
        "/api/v1/doctors/{doctor_id}/reactivate": {
            "post": _op(
                "Reactivate a doctor: their sessions are bookable again (audited)",
                _ADMIN,
                {**_ok(with_affected, "Reactivated"), **_errors(401, 403, 404, 422)},
                parameters=one,
            )
        },
    }


def _week_paths() -> dict[str, Any]:
    one = [_path("doctor_id")]
    session = [_path("doctor_id"), _path("template_id")]
    exception = [_path("doctor_id"), _path("exception_id")]
    deleted = {"type": "object", "properties": {"deleted": _INT, **_AFFECTED}}
    return {
        "/api/v1/doctors/{doctor_id}/templates": {
            "get": _op(
                "The doctor's weekly sessions, Monday first",
                _SUPERVISORS,
                {**_ok({"type": "object"}, "`templates`"), **_errors(401, 403, 404, 422)},
                parameters=one,
            ),
            "post": _op(
                "Add a weekly session; refused when it overlaps another of the doctor's on "
                "that weekday (while both are valid) or when the slot length does not divide "
                "it. Its slots are generated at once (audited).",
                _ADMIN,
                {
                    **_ok(_with_affected("WeeklySession"), "Added", 201),
                    **_errors(400, 401, 403, 404, 422),
                },
                parameters=one,
                requestBody=_body(
                    _SESSION_FIELDS, ["weekday", "start_time", "end_time", "slot_minutes"]
                ),
            ),
        },
        "/api/v1/doctors/{doctor_id}/templates/{template_id}": {
            "patch": _op(
                "Change a weekly session (send only what changes): future free slots follow; "
                "booked ones stay and are listed if they no longer fit (audited)",
                _ADMIN,
                {
                    **_ok(_with_affected("WeeklySession"), "Saved"),
                    **_errors(400, 401, 403, 404, 422),
                },
                parameters=session,
                requestBody=_body(_SESSION_FIELDS, []),
            ),
            "delete": _op(
                "Remove a weekly session: its future free slots go (audited)",
                _ADMIN,
                {**_ok(deleted, "Removed"), **_errors(401, 403, 404, 422)},
                parameters=session,
            ),
        },
        "/api/v1/doctors/{doctor_id}/exceptions": {
            "get": _op(
                "The doctor's leave, sick days and extra sessions not yet over",
                _SUPERVISORS,
                {**_ok({"type": "object"}, "`exceptions`"), **_errors(401, 403, 404, 422)},
                parameters=one,
            ),
            "post": _op(
                "Add leave, a sick day or another absence (blocks slots; booked ones hit are "
                "listed), or an extra session on one date (adds slots) (audited)",
                _SUPERVISORS,
                {
                    **_ok(_with_affected("ScheduleException"), "Added", 201),
                    **_errors(400, 401, 403, 404, 422),
                },
                parameters=one,
                requestBody=_body(_EXCEPTION_FIELDS, ["kind", "starts_on"]),
            ),
        },
        "/api/v1/doctors/{doctor_id}/exceptions/{exception_id}": {
            "delete": _op(
                "Remove an exception: blocked slots open again, an extra session's free slots "
                "go (audited)",
                _SUPERVISORS,
                {**_ok(deleted, "Removed"), **_errors(401, 403, 404, 422)},
                parameters=exception,
            )
        },
    }


def add_doctors_paths(document: dict[str, Any]) -> dict[str, Any]:
    """Add the departments', doctors' and their weeks' paths to ``document`` and return it."""
    document.setdefault("components", {}).setdefault("schemas", {}).update(_SCHEMAS)
    paths = document["paths"]
    paths["/api/v1/departments"] = {
        "get": _op(
            "Departments, in menu order. Without `active`: the active ones as `id`, `code`, "
            "`name` (everyone, the desk's list). With `active` (supervisors and admins; an "
            "agent gets 403 naming `active`): those chosen, with every Department field",
            ["agent", "supervisor", "admin"],
            {
                **_ok(
                    {
                        "type": "object",
                        "properties": {
                            "departments": {"type": "array", "items": _ref("Department")}
                        },
                    },
                    "`departments`",
                ),
                **_errors(401, 403, 422),
            },
            parameters=[{**_ACTIVE_FILTER, "description": "absent: active only, short form"}],
        ),
        "post": _op(
            "Create a department (audited)",
            _ADMIN,
            {**_ok(_ref("Department"), "Created", 201), **_errors(400, 401, 403, 422)},
            requestBody=_body(_DEPARTMENT_FIELDS, ["code", "name"]),
        ),
    }
    paths.update(_department_paths())
    paths.update(_doctor_paths())
    paths.update(_week_paths())
    return document
