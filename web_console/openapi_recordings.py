"""OpenAPI path of live monitoring (the recording pages are console pages, not /api/v1)."""

from __future__ import annotations

from typing import Any

_ERROR = {"$ref": "#/components/schemas/Error"}
_TEXT = {
    401: "Not logged in",
    403: "Role not allowed, or missing CSRF token",
    422: "A field is invalid (`mode`, `linkedid`, or your user has no extension)",
    503: "The phone system is unavailable",
}


def add_recordings_paths(document: dict[str, Any]) -> dict[str, Any]:
    """Add ``POST /api/v1/recordings/monitor`` to ``document`` and return it."""
    document["paths"]["/api/v1/recordings/monitor"] = {
        "post": {
            "summary": "Listen to, whisper to or barge into a live call from your own phone",
            "description": "Supervisors and admins. Rings the user's extension "
            "(recording.supervisor_dial) into ChanSpy on the call's agent. Audited.",
            "requestBody": {
                "required": True,
                "content": {
                    "application/x-www-form-urlencoded": {
                        "schema": {
                            "type": "object",
                            "required": ["linkedid", "mode"],
                            "properties": {
                                "linkedid": {"type": "string", "maxLength": 64},
                                "mode": {"type": "string", "enum": ["listen", "whisper", "barge"]},
                            },
                        }
                    }
                },
            },
            "responses": {
                "200": {
                    "description": "The supervisor's phone is being rung",
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "monitoring": {"type": "string"},
                                    "mode": {"type": "string"},
                                    "action_id": {"type": "string"},
                                    "extension": {
                                        "type": "string",
                                        "description": "The supervisor's phone being rung",
                                    },
                                },
                            }
                        }
                    },
                },
                **{
                    str(code): {
                        "description": text,
                        "content": {"application/json": {"schema": _ERROR}},
                    }
                    for code, text in _TEXT.items()
                },
            },
        }
    }
    return document
