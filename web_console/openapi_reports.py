"""OpenAPI paths of the reports (web_console/routes/reports_api.py)."""

from __future__ import annotations

from typing import Any

_ERROR = {"$ref": "#/components/schemas/Error"}
_TEXT = {
    401: "Not logged in",
    403: "Not allowed: queue reports are for supervisors; an agent asked for another agent",
    422: "A parameter is invalid (`from` after `to`, a period too long for its bucket, an "
    "unknown queue or agent, an unknown parameter); `field` names it",
}


def _query(name: str, description: str, **schema: Any) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": name in ("from", "to"),
        "description": description,
        "schema": {"type": "string", **schema},
    }


_PERIOD = [
    _query("from", "First day, the hospital's local date (YYYY-MM-DD)", format="date"),
    _query("to", "Last day, inclusive (YYYY-MM-DD)", format="date"),
    _query(
        "by",
        "Bucket: 15min (period up to 31 days), hour (93), day (366), week (731), month (1096)",
        enum=["15min", "hour", "day", "week", "month"],
        default="day",
    ),
    _query("format", "json, or csv (a download; audited as an export)", enum=["json", "csv"]),
]
_FIGURES = {"type": "object", "additionalProperties": {"type": ["number", "null"]}}
_REPORT = {
    "type": "object",
    "properties": {
        "period": {
            "type": "object",
            "properties": {
                "from": {"type": "string", "format": "date"},
                "to": {"type": "string", "format": "date"},
                "by": {"type": "string"},
                "timezone": {"type": "string"},
            },
        },
        "totals": {"type": "object", "additionalProperties": {"type": "object"}},
        "rows": {
            "type": "array",
            "description": "One row per name and bucket (bucket_start: ISO 8601 in the "
            "hospital's zone), then a 'Total' row per name",
            "items": _FIGURES,
        },
    },
}


def _responses() -> dict[str, Any]:
    ok = {
        "description": "The report (an empty period: zeros)",
        "content": {"application/json": {"schema": _REPORT}, "text/csv": {}},
    }
    errors = {
        str(code): {"description": text, "content": {"application/json": {"schema": _ERROR}}}
        for code, text in _TEXT.items()
    }
    return {"200": ok, **errors}


def add_reports_paths(document: dict[str, Any]) -> dict[str, Any]:
    """Add /api/v1/reports/queues, /agents, /appointments and the reports of ``_MORE``."""
    paths = document["paths"]
    paths["/api/v1/reports/queues"] = {
        "get": {
            "summary": "Per queue and bucket: offered, answered, abandoned (and their wait), "
            "service level, ASA, handle time, longest wait",
            "x-roles": ["supervisor", "admin"],
            "security": [{"session": []}],
            "parameters": [
                *_PERIOD,
                _query("queue", "Limit to these queues (repeat or comma-separate)"),
                _query("sl_seconds", "Service level threshold, 1-600 s (default 20)"),
            ],
            "responses": _responses(),
        }
    }
    paths["/api/v1/reports/agents"] = {
        "get": {
            "summary": "Per agent and bucket: time signed in, ready, paused (by reason), "
            "ringing, on call, wrap-up; calls handled and handle time. Agents: their own only",
            "x-roles": ["agent", "supervisor", "admin"],
            "security": [{"session": []}],
            "parameters": [*_PERIOD, _query("agent", "Usernames (repeat or comma-separate)")],
            "responses": _responses(),
        }
    }
    paths["/api/v1/reports/appointments"] = {
        "get": {
            "summary": "Per bucket: appointments booked and cancelled by channel, the no-show "
            "rate, and the no-show rate of reminded and of not reminded patients",
            "x-roles": ["supervisor", "admin"],
            "security": [{"session": []}],
            "parameters": list(_PERIOD),
            "responses": _responses(),
        }
    }
    _add_more_paths(paths)
    return document


# The reports of web_console/routes/reports_more_api.py: (path kind, summary, extra query).
_MORE = [
    (
        "ivr",
        "Per bucket: calls that entered the phone menus, contained (no agent), to an agent, "
        "hung up in the menus, still there; bookings and cancellations by channel (keypad, "
        "speech, agent on a call, agent, web, outbound call)",
        [],
    ),
    (
        "ivr-steps",
        "Per menu step and bucket: callers who hung up there, calls the menus finished there",
        [],
    ),
    (
        "campaigns",
        "Per campaign: per bucket and per attempt number, dialled, reached, completed, to an "
        "agent, opted out, hung up, machine, no answer, busy, failed, escalated (tasks)",
        [_query("campaign", "Limit to these campaign ids (repeat or comma-separate)")],
    ),
    (
        "complaints",
        "Per bucket: complaints received (by severity), open, overdue, answered late, closed, "
        "average time to close",
        [],
    ),
    ("complaint-categories", "Complaints received in the period, per category", []),
    (
        "tasks",
        "Per bucket: tasks created (by source), done, could not reach, cancelled, open, "
        "overdue, average time to done. Agents: their own tasks only",
        [_query("owner", "Usernames (repeat or comma-separate)")],
    ),
    (
        "task-owners",
        "Tasks created in the period, per owner. Agents: their own only",
        [_query("owner", "Usernames (repeat or comma-separate)")],
    ),
]


def _add_more_paths(paths: dict[str, Any]) -> None:
    for kind, summary, extra in _MORE:
        staff = kind.startswith("task")
        paths[f"/api/v1/reports/{kind}"] = {
            "get": {
                "summary": summary,
                "x-roles": ["agent", "supervisor", "admin"] if staff else ["supervisor", "admin"],
                "security": [{"session": []}],
                "parameters": [*_PERIOD, *extra],
                "responses": _responses(),
            }
        }
