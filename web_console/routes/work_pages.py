"""The pages of the day's work: /tasks (the inbox), /complaints and /complaints/<id>.

Server-rendered lists; the buttons call /api/v1/tasks and /api/v1/complaints through
``static/work.js`` (CSRF token, refusals shown beside the row). Agents see their tasks, their
queues' and the overdue ones; supervisors see all and assign. Times are the hospital's.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from sqlalchemy import select

from hcrm_core.db import Database
from hcrm_core.models import AuditAction, CallQueue, Department, FollowUpTask, Role, User
from hcrm_core.services.audit import record_audit
from hcrm_core.services.complaints import CATEGORIES, CHANNELS, ComplaintRow
from hcrm_core.services.tasks import TaskFilter, TaskRow
from web_console.access import STAFF, SUPERVISORS, actor_for, allow, require_session
from web_console.keys import DATABASE
from web_console.pages import page
from web_console.routes.complaints_api import complaint_service
from web_console.routes.tasks_api import task_filter, task_service
from web_console.views import id_from, only_params

routes = web.RouteTableDef()
_TASK_TABS = (("mine", "My tasks"), ("queue", "Queue"), ("overdue", "Overdue"))
_COMPLAINT_TABS = (
    ("open", "Open"),
    ("past_due", "Past due"),
    ("closed", "Closed"),
    ("all", "All"),
)
_NEXT_STATUS = {
    "received": ("investigating", "responded"),
    "investigating": ("responded",),
    "responded": ("closed", "investigating"),
    "closed": ("reopened",),
    "reopened": ("investigating", "responded"),
}


def source_link(kind: str, ref: str | None, supervisor: bool) -> str | None:
    """Where the task's source can be read, when the console has a page for it."""
    if not ref or ":" not in ref:
        return None
    what, _, value = ref.partition(":")
    if what == "after_hours_request" and supervisor:
        return f"/admin/hours#request-{value}"
    if what == "recording" and value.isdigit():
        return f"/recordings/{value}"
    if what == "complaint" and value.isdigit():
        return f"/complaints/{value}"
    return None


def task_view(row: TaskRow, supervisor: bool) -> dict[str, Any]:
    task = row.task
    return {
        "id": task.id,
        "version": task.version,
        "patient_id": task.patient_id,
        "patient": row.patient_name,
        "patient_active": row.patient_active,
        "reason": task.reason,
        "source_kind": task.source_kind.value,
        "source_link": source_link(task.source_kind.value, task.source_ref, supervisor),
        "priority": task.priority,
        "due_at": task.due_at,
        "due_date": task.due_date,
        "overdue": row.overdue,
        "queue": task.queue,
        "status": task.status.value,
        "owner_id": task.owner_user_id,
        "owner": row.owner_name,
        "notes": task.notes or "",
        "outcome": task.outcome or "",
        "last_call_ref": task.last_call_ref,
    }


async def staff_people(database: Database) -> list[dict[str, Any]]:
    async with database.session() as session:
        users = await session.scalars(
            select(User)
            .where(User.active.is_(True), User.role.in_((Role.AGENT, Role.SUPERVISOR)))
            .order_by(User.display_name)
        )
        return [{"id": u.id, "name": u.display_name or u.username} for u in users]


async def queue_names(database: Database) -> list[str]:
    """The call queues, and any other queue a task names."""
    async with database.session() as session:
        queues = set(await session.scalars(select(CallQueue.name)))
        queues |= set(
            await session.scalars(
                select(FollowUpTask.queue).where(FollowUpTask.queue.is_not(None)).distinct()
            )
        )
    return sorted(q for q in queues if q)


@routes.get("/tasks")
@allow(STAFF)
@page("tasks.html")
async def tasks_page(request: web.Request) -> dict[str, Any]:
    only_params(request, {"view", "queue", "status", "owner_id", "limit"})
    session = require_session(request)
    supervisor = session.role in SUPERVISORS
    view = request.query.get("view", "mine")
    flt: TaskFilter = task_filter(request)
    service = task_service(request)
    rows = await service.list(flt)
    if not supervisor:
        rows = [r for r in rows if r.task.owner_user_id in (None, session.user_id)]
    database = request.app[DATABASE]
    return {
        "view": view,
        "tabs": _TASK_TABS + ((("all", "All tasks"),) if supervisor else ()),
        "queue": flt.queue or "",
        "queues": await queue_names(database),
        "tasks": [task_view(r, supervisor) for r in rows],
        "counts": await service.counts(),
        "supervisor": supervisor,
        "people": await staff_people(database) if supervisor else [],
        "me": session.user_id,
    }


def complaint_view(row: ComplaintRow) -> dict[str, Any]:
    c = row.complaint
    return {
        "id": c.id,
        "patient_id": c.patient_id,
        "patient": row.patient_name,
        "category": c.category,
        "severity": c.severity.value,
        "department": row.department_name,
        "department_id": c.department_id,
        "status": c.status.value,
        "owner": row.owner_name,
        "owner_id": c.owner_user_id,
        "created_at": c.created_at,
        "acknowledge_due_at": c.acknowledge_due_at,
        "respond_due_at": c.respond_due_at,
        "acknowledged_at": c.acknowledged_at,
        "responded_at": c.responded_at,
        "closed_at": c.resolved_at,
        "reopened_count": c.reopened_count,
        "past_due": row.past_due,
        "description": c.description,
        "closing_summary": c.resolution or "",
    }


@routes.get("/complaints")
@allow(STAFF)
@page("complaints.html")
async def complaints_page(request: web.Request) -> dict[str, Any]:
    only_params(request, {"view"})
    view = request.query.get("view", "open")
    rows = await complaint_service(request).list(view=view)
    return {
        "view": view,
        "tabs": _COMPLAINT_TABS,
        "complaints": [complaint_view(r) for r in rows],
    }


async def _departments(database: Database) -> list[dict[str, Any]]:
    async with database.session() as session:
        rows = await session.scalars(select(Department).order_by(Department.name))
        return [{"id": d.id, "name": d.name} for d in rows]


@routes.get("/complaints/{complaint_id}")
@allow(STAFF)
@page("complaint_detail.html")
async def complaint_page(request: web.Request) -> dict[str, Any]:
    only_params(request, set())
    complaint_id = id_from(request.match_info["complaint_id"], "complaint_id")
    detail = await complaint_service(request).get(complaint_id)
    database = request.app[DATABASE]
    await record_audit(
        database,
        actor_for(request),
        AuditAction.VIEW,
        "complaint",
        complaint_id,
        patient_id=detail.row.complaint.patient_id,
        detail={"page": "complaint"},
    )
    view = complaint_view(detail.row)
    return {
        "c": view,
        "next_statuses": _NEXT_STATUS.get(view["status"], ()),
        "calls": [
            {
                "linkedid": linked.call.linkedid,
                "direction": linked.call.direction.value,
                "started_at": linked.call.started_at,
                "recording_ids": linked.recording_ids,
            }
            for linked in detail.calls
        ],
        "contacts": detail.contacts,
        "channels": CHANNELS,
        "categories": CATEGORIES,
        "severities": ("low", "medium", "high", "critical"),
        "departments": await _departments(database),
        "people": await staff_people(database),
        "now": datetime.now(UTC),
    }


async def patient_work(request: web.Request, patient_id: int) -> dict[str, Any]:
    """The patient card's open tasks and complaints (``_patient_work.html``)."""
    session = require_session(request)
    supervisor = session.role in SUPERVISORS
    tasks = await task_service(request).list(TaskFilter(patient_id=patient_id, limit=50))
    complaints = await complaint_service(request).list(view="open", patient_id=patient_id)
    return {
        "work_tasks": [task_view(r, supervisor) for r in tasks],
        "work_complaints": [complaint_view(r) for r in complaints],
    }
