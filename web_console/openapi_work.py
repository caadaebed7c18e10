"""OpenAPI paths of the task inbox and complaints (web_console/routes/tasks_api.py and
complaints_api.py): staff work them; assigning a task is for supervisors and admins."""

from __future__ import annotations

from typing import Any

_ERROR = {"$ref": "#/components/schemas/Error"}
_TEXT = {
    400: "The body is not a JSON object, or a string in it is not valid text",
    401: "Not logged in",
    403: "Not allowed for this role, a missing CSRF token, or someone else's task",
    404: "No such task or complaint",
    409: "Someone else claimed the task first, or it changed since it was read (version)",
    422: "A field is invalid (an unknown status or move, a priority outside 1-5, a missing "
    "outcome or closing summary...); `field` names it",
}
_STAFF = ["agent", "supervisor", "admin"]
_SUPERVISORS = ["supervisor", "admin"]
_MOMENT = {"type": ["string", "null"], "format": "date-time"}
_TASK_STATUS = ["open", "in_progress", "done", "cannot_reach", "cancelled"]
_SOURCES = [
    "manual", "survey", "campaign", "ivr_no_agent", "voicemail", "callback_request",
    "missed_callback", "appointment_change", "complaint",
]  # fmt: skip
_COMPLAINT_STATUS = ["received", "investigating", "responded", "closed", "reopened"]
_SEVERITY = ["low", "medium", "high", "critical"]

SCHEMAS: dict[str, Any] = {
    "Task": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "patient_id": {"type": "integer"},
            "patient_name": {"type": "string"},
            "patient_active": {"type": "boolean", "description": "false: erased or merged"},
            "reason": {"type": "string"},
            "source_kind": {"type": "string", "enum": _SOURCES},
            "source_ref": {
                "type": ["string", "null"],
                "description": "attempt:<id>, after_hours_request:<id>, appointment:<id>, "
                "call:<linkedid>...",
            },
            "priority": {"type": "integer", "minimum": 1, "maximum": 5},
            "due_at": _MOMENT,
            "due_date": {"type": ["string", "null"], "format": "date"},
            "overdue": {"type": "boolean"},
            "queue": {"type": ["string", "null"]},
            "status": {"type": "string", "enum": _TASK_STATUS},
            "owner_user_id": {"type": ["integer", "null"]},
            "owner_name": {"type": ["string", "null"]},
            "claimed_at": _MOMENT,
            "notes": {"type": ["string", "null"]},
            "outcome": {"type": ["string", "null"]},
            "last_call_ref": {
                "type": ["string", "null"],
                "description": "The Linkedid of the last call placed from the task",
            },
            "created_at": _MOMENT,
            "closed_at": _MOMENT,
            "version": {"type": "integer", "description": "Send it back to guard an edit"},
        },
    },
    "Complaint": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "patient_id": {"type": "integer"},
            "patient_name": {"type": "string"},
            "category": {"type": "string"},
            "severity": {"type": "string", "enum": _SEVERITY},
            "department_id": {"type": ["integer", "null"]},
            "department_name": {"type": ["string", "null"]},
            "status": {"type": "string", "enum": _COMPLAINT_STATUS},
            "owner_user_id": {"type": ["integer", "null"]},
            "owner_name": {"type": ["string", "null"]},
            "description": {"type": "string"},
            "closing_summary": {"type": ["string", "null"]},
            "created_at": _MOMENT,
            "acknowledge_due_at": _MOMENT,
            "respond_due_at": _MOMENT,
            "acknowledged_at": _MOMENT,
            "responded_at": _MOMENT,
            "closed_at": _MOMENT,
            "reopened_count": {"type": "integer"},
            "past_due": {"type": "boolean"},
            "calls": {
                "type": "array",
                "description": "Only in the one-complaint answer",
                "items": {
                    "type": "object",
                    "properties": {
                        "linkedid": {"type": "string"},
                        "direction": {"type": "string"},
                        "started_at": _MOMENT,
                        "recording_ids": {"type": "array", "items": {"type": "integer"}},
                    },
                },
            },
            "contacts": {
                "type": "array",
                "description": "Only in the one-complaint answer",
                "items": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "integer"},
                        "channel": {"type": "string"},
                        "summary": {"type": "string"},
                        "by": {"type": "string"},
                        "at": _MOMENT,
                    },
                },
            },
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


def _body(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "object",
        "additionalProperties": False,
        "properties": properties,
    }
    if required:
        schema["required"] = required
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _op(summary: str, roles: list[str] = _STAFF, **rest: Any) -> dict[str, Any]:
    return {"summary": summary, "x-roles": roles, "security": [{"session": []}], **rest}


def _id(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "integer"}}


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "schema": schema, "description": description}


def _task_paths(paths: dict[str, Any]) -> None:
    one = _ok(_ref("Task"), "The task")
    paths["/api/v1/tasks"] = {
        "get": _op(
            "The inbox: mine (default), a queue's unowned tasks, overdue ones; supervisors "
            "also all (and owner_id)",
            parameters=[
                _query("view", {"enum": ["mine", "queue", "overdue", "all"]}, "Which tasks"),
                _query("queue", {"type": "string"}, "A queue's name"),
                _query("status", {"type": "string"}, "Comma-separated statuses, or all"),
                _query("owner_id", {"type": "integer"}, "Supervisors: one person's tasks"),
                _query("limit", {"type": "integer", "maximum": 500}, "At most this many"),
            ],
            responses={
                **_ok(
                    {
                        "type": "object",
                        "properties": {"tasks": {"type": "array", "items": _ref("Task")}},
                    },
                    "Most urgent first",
                ),
                **_errors(401, 403, 422),
            },
        ),
        "post": _op(
            "A task made by hand (audited); due_at without a zone is the hospital's time",
            requestBody=_body(
                {
                    "patient_id": {"type": "integer"},
                    "reason": {"type": "string", "maxLength": 200},
                    "priority": {"type": "integer", "minimum": 1, "maximum": 5},
                    "due_at": {"type": "string", "format": "date-time"},
                    "queue": {"type": "string"},
                    "notes": {"type": "string", "maxLength": 4000},
                },
                ["patient_id", "reason"],
            ),
            responses={
                **_ok(_ref("Task"), "The task", "201"),
                **_errors(400, 401, 403, 404, 409, 422),
            },
        ),
    }
    paths["/api/v1/tasks/counts"] = {
        "get": _op(
            "Open, in-progress and overdue tasks now (the board's tiles)",
            responses={
                **_ok(
                    {
                        "type": "object",
                        "properties": {
                            "open": {"type": "integer"},
                            "in_progress": {"type": "integer"},
                            "overdue": {"type": "integer"},
                            "at": _MOMENT,
                        },
                    },
                    "The counts",
                ),
                **_errors(401, 403),
            },
        )
    }
    paths["/api/v1/tasks/{task_id}"] = {
        "get": _op(
            "One task (audited); agents: theirs or an unowned one",
            parameters=[_id("task_id")],
            responses={**one, **_errors(401, 403, 404, 422)},
        ),
        "patch": _op(
            "Status (open, in_progress, done, cannot_reach; supervisors also cancelled and "
            "reopen), notes, outcome (done needs one), priority (supervisors); audited",
            parameters=[_id("task_id")],
            requestBody=_body(
                {
                    "status": {"type": "string", "enum": _TASK_STATUS},
                    "notes": {"type": ["string", "null"]},
                    "outcome": {"type": ["string", "null"]},
                    "priority": {"type": "integer", "minimum": 1, "maximum": 5},
                    "version": {"type": "integer"},
                }
            ),
            responses={**one, **_errors(400, 401, 403, 404, 409, 422)},
        ),
    }
    paths["/api/v1/tasks/{task_id}/claim"] = {
        "post": _op(
            "Take an open task (unowned, or assigned to you) and start it; of two claims at "
            "once exactly one wins, the other gets 409",
            parameters=[_id("task_id")],
            responses={**one, **_errors(401, 403, 404, 409)},
        )
    }
    paths["/api/v1/tasks/{task_id}/assign"] = {
        "post": _op(
            "Give the task to a user (null: back to its queue); audited",
            roles=_SUPERVISORS,
            parameters=[_id("task_id")],
            requestBody=_body(
                {"user_id": {"type": ["integer", "null"]}, "version": {"type": "integer"}},
                ["user_id"],
            ),
            responses={**one, **_errors(400, 401, 403, 404, 409, 422)},
        )
    }
    paths["/api/v1/tasks/{task_id}/dial"] = {
        "post": _op(
            "Click-to-dial the task's patient from your desk phone; the call's Linkedid is "
            "kept on the task (last_call_ref)",
            parameters=[_id("task_id")],
            requestBody=_body({"number": {"type": "string", "description": "Another number"}}),
            responses={
                **_ok(
                    {
                        "type": "object",
                        "properties": {
                            "task_id": {"type": "integer"},
                            "linkedid": {"type": "string"},
                            "number": {"type": "string"},
                            "interface": {"type": "string"},
                        },
                    },
                    "The call was asked of Asterisk",
                    "202",
                ),
                **_errors(400, 401, 403, 404, 409, 422),
            },
        )
    }


def _complaint_paths(paths: dict[str, Any]) -> None:
    one = _ok(_ref("Complaint"), "The complaint, with its calls and contact log")
    listed = {
        "type": "object",
        "properties": {"complaints": {"type": "array", "items": _ref("Complaint")}},
    }
    paths.setdefault("/api/v1/complaints", {})["get"] = _op(
        "Complaints: open (default), past_due, closed or all; patient_id narrows",
        parameters=[
            _query("view", {"enum": ["open", "past_due", "closed", "all"]}, "Which ones"),
            _query("patient_id", {"type": "integer"}, "One patient's"),
            _query("limit", {"type": "integer", "maximum": 500}, "At most this many"),
        ],
        responses={**_ok(listed, "Soonest due first"), **_errors(401, 403, 422)},
    )
    paths["/api/v1/complaints/{complaint_id}"] = {
        "get": _op(
            "One complaint (audited)",
            parameters=[_id("complaint_id")],
            responses={**one, **_errors(401, 403, 404, 422)},
        ),
        "patch": _op(
            "Move the status on (received -> investigating -> responded -> closed; closed -> "
            "reopened; closing needs closing_summary), severity (due times recomputed), "
            "category, department_id, owner_user_id (null clears); audited",
            parameters=[_id("complaint_id")],
            requestBody=_body(
                {
                    "status": {"type": "string", "enum": _COMPLAINT_STATUS},
                    "severity": {"type": "string", "enum": _SEVERITY},
                    "category": {"type": "string"},
                    "department_id": {"type": ["integer", "null"]},
                    "owner_user_id": {"type": ["integer", "null"]},
                    "closing_summary": {"type": "string", "maxLength": 4000},
                }
            ),
            responses={**one, **_errors(400, 401, 403, 404, 422)},
        ),
    }
    paths["/api/v1/complaints/{complaint_id}/contacts"] = {
        "post": _op(
            "Log a contact with the patient (a phone one may name its call); audited",
            parameters=[_id("complaint_id")],
            requestBody=_body(
                {
                    "channel": {"enum": ["phone", "letter", "email", "in_person", "sms"]},
                    "summary": {"type": "string", "maxLength": 4000},
                    "linkedid": {"type": "string"},
                },
                ["channel", "summary"],
            ),
            responses={
                **_ok(_ref("Complaint"), "The complaint", "201"),
                **_errors(400, 401, 403, 404, 422),
            },
        )
    }
    paths["/api/v1/complaints/{complaint_id}/calls"] = {
        "post": _op(
            "Link a logged call (and its recordings) to the complaint; audited",
            parameters=[_id("complaint_id")],
            requestBody=_body({"linkedid": {"type": "string"}}, ["linkedid"]),
            responses={**one, **_errors(400, 401, 403, 404, 422)},
        )
    }


def add_work_paths(document: dict[str, Any]) -> dict[str, Any]:
    """Add /api/v1/tasks and the complaint routes beside the desk's POST /api/v1/complaints."""
    components = document["components"]
    components["schemas"] = {**components["schemas"], **SCHEMAS}
    _task_paths(document["paths"])
    _complaint_paths(document["paths"])
    return document
