"""Complaints over /api/v1/complaints: list, read, update, the contact log and linked calls.

Filing stays ``POST /api/v1/complaints`` (the desk, :mod:`web_console.routes.calls_api`).
Staff read and work complaints; the status flow, due moments and closing rules are
:mod:`hcrm_core.services.complaints`'. Every read of one complaint and every change is audited.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web

from hcrm_core.models import AuditAction
from hcrm_core.services.audit import record_audit
from hcrm_core.services.complaints import (
    ComplaintChanges,
    ComplaintDetail,
    ComplaintRow,
    ComplaintService,
)
from web_console.access import STAFF, actor_for, allow
from web_console.json_body import read_body
from web_console.keys import DATABASE, SETTINGS
from web_console.views import id_from, int_param, only_params

routes = web.RouteTableDef()
COMPLAINTS = "/api/v1/complaints"


def complaint_service(request: web.Request) -> ComplaintService:
    return ComplaintService(request.app[DATABASE], request.app[SETTINGS].tz)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def complaint_json(row: ComplaintRow) -> dict[str, Any]:
    c = row.complaint
    return {
        "id": c.id,
        "patient_id": c.patient_id,
        "patient_name": row.patient_name,
        "category": c.category,
        "severity": c.severity.value,
        "department_id": c.department_id,
        "department_name": row.department_name,
        "status": c.status.value,
        "owner_user_id": c.owner_user_id,
        "owner_name": row.owner_name,
        "description": c.description,
        "closing_summary": c.resolution,
        "created_at": _iso(c.created_at),
        "acknowledge_due_at": _iso(c.acknowledge_due_at),
        "respond_due_at": _iso(c.respond_due_at),
        "acknowledged_at": _iso(c.acknowledged_at),
        "responded_at": _iso(c.responded_at),
        "closed_at": _iso(c.resolved_at),
        "reopened_count": c.reopened_count,
        "past_due": row.past_due,
    }


def detail_json(detail: ComplaintDetail) -> dict[str, Any]:
    return {
        **complaint_json(detail.row),
        "calls": [
            {
                "linkedid": linked.call.linkedid,
                "direction": linked.call.direction.value,
                "started_at": _iso(linked.call.started_at),
                "recording_ids": linked.recording_ids,
            }
            for linked in detail.calls
        ],
        "contacts": [
            {
                "id": contact.id,
                "channel": contact.channel,
                "summary": contact.summary,
                "by": contact.actor,
                "at": _iso(contact.contacted_at),
            }
            for contact in detail.contacts
        ],
    }


def _complaint_id(request: web.Request) -> int:
    return id_from(request.match_info["complaint_id"], "complaint_id")


@routes.get(COMPLAINTS)
@allow(STAFF)
async def list_complaints(request: web.Request) -> web.Response:
    """``view``: open (default), past_due, closed, all; ``patient_id`` narrows to one patient."""
    only_params(request, {"view", "patient_id", "limit"})
    patient_raw = request.query.get("patient_id")
    rows = await complaint_service(request).list(
        view=request.query.get("view", "open"),
        patient_id=id_from(patient_raw, "patient_id") if patient_raw else None,
        limit=int_param(request.query.get("limit"), "limit", default=200, low=1, high=500),
    )
    return web.json_response({"complaints": [complaint_json(r) for r in rows]})


@routes.get(f"{COMPLAINTS}/{{complaint_id}}")
@allow(STAFF)
async def get_complaint(request: web.Request) -> web.Response:
    only_params(request, set())
    detail = await complaint_service(request).get(_complaint_id(request))
    await record_audit(
        request.app[DATABASE],
        actor_for(request),
        AuditAction.VIEW,
        "complaint",
        detail.row.complaint.id,
        patient_id=detail.row.complaint.patient_id,
        detail={"via": "api"},
    )
    return web.json_response(detail_json(detail))


@routes.patch(f"{COMPLAINTS}/{{complaint_id}}")
@allow(STAFF)
async def update_complaint(request: web.Request) -> web.Response:
    """status, severity, category, department_id, owner_user_id (null clears), closing_summary."""
    body = await read_body(request)
    changes = ComplaintChanges(
        status=body.text("status", max_length=20),
        severity=body.text("severity", max_length=20),
        category=body.text("category", max_length=60),
        department_id=body.integer("department_id"),
        clear_department=body.present("department_id") and body.integer("department_id") is None,
        owner_user_id=body.integer("owner_user_id"),
        clear_owner=body.present("owner_user_id") and body.integer("owner_user_id") is None,
        closing_summary=body.text("closing_summary", max_length=4000),
    )
    body.done()
    complaint_id = _complaint_id(request)
    service = complaint_service(request)
    await service.update(complaint_id, actor_for(request), changes)
    return web.json_response(detail_json(await service.get(complaint_id)))


@routes.post(f"{COMPLAINTS}/{{complaint_id}}/contacts")
@allow(STAFF)
async def add_contact(request: web.Request) -> web.Response:
    """Log a contact with the patient: channel, summary, and the call's linkedid if by phone."""
    body = await read_body(request)
    channel = body.required_text("channel", max_length=20)
    summary = body.required_text("summary", max_length=4000)
    linkedid = body.text("linkedid", max_length=64)
    body.done()
    complaint_id = _complaint_id(request)
    service = complaint_service(request)
    await service.add_contact(
        complaint_id, actor_for(request), channel=channel, summary=summary, linkedid=linkedid
    )
    return web.json_response(detail_json(await service.get(complaint_id)), status=201)


@routes.post(f"{COMPLAINTS}/{{complaint_id}}/calls")
@allow(STAFF)
async def link_call(request: web.Request) -> web.Response:
    body = await read_body(request)
    linkedid = body.required_text("linkedid", max_length=64)
    body.done()
    complaint_id = _complaint_id(request)
    service = complaint_service(request)
    await service.link_call(complaint_id, actor_for(request), linkedid=linkedid)
    return web.json_response(detail_json(await service.get(complaint_id)))
