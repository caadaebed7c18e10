"""The task inbox over /api/v1/tasks: agents see and work theirs and their queues', supervisors
see all, assign and reassign. Every change is one audited transaction
(:mod:`hcrm_core.services.tasks`); a refusal is a 4xx naming the field. Calling the patient
from a task is the desk's click-to-dial, and the call's id is kept on the task.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from sqlalchemy import select

from hcrm_core.errors import DomainError, ValidationFailed
from hcrm_core.models import AuditAction, FollowUpStatus, PatientPhone
from hcrm_core.services.audit import record_audit
from hcrm_core.services.tasks import TaskFilter, TaskForbidden, TaskRow, TaskService
from web_console.access import STAFF, SUPERVISORS, actor_for, allow, require_session
from web_console.json_body import Body, read_body
from web_console.keys import DATABASE, DESK, SETTINGS
from web_console.views import id_from, int_param, only_params

routes = web.RouteTableDef()
TASKS = "/api/v1/tasks"
_VIEWS = ("mine", "queue", "overdue", "all")


def task_service(request: web.Request) -> TaskService:
    return TaskService(request.app[DATABASE], request.app[SETTINGS].tz)


def is_supervisor(request: web.Request) -> bool:
    return require_session(request).role in SUPERVISORS


def task_json(row: TaskRow) -> dict[str, Any]:
    task = row.task

    def iso(moment: datetime | None) -> str | None:
        return moment.isoformat() if moment else None

    return {
        "id": task.id,
        "patient_id": task.patient_id,
        "patient_name": row.patient_name,
        "patient_active": row.patient_active,
        "reason": task.reason,
        "source_kind": task.source_kind.value,
        "source_ref": task.source_ref,
        "priority": task.priority,
        "due_at": iso(task.due_at),
        "due_date": task.due_date.isoformat() if task.due_date else None,
        "overdue": row.overdue,
        "queue": task.queue,
        "status": task.status.value,
        "owner_user_id": task.owner_user_id,
        "owner_name": row.owner_name,
        "claimed_at": iso(task.claimed_at),
        "notes": task.notes,
        "outcome": task.outcome,
        "last_call_ref": task.last_call_ref,
        "created_at": iso(task.created_at),
        "closed_at": iso(task.closed_at),
        "version": task.version,
    }


def parse_moment(raw: str | None, field: str) -> datetime | None:
    """An ISO 8601 moment with its zone (a local one is read in the hospital's zone)."""
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise ValidationFailed(field, "an ISO 8601 date and time, e.g. 2026-12-07T09:00") from None
    return moment


def _statuses(raw: str | None) -> tuple[FollowUpStatus, ...]:
    if raw is None or raw == "":
        return (FollowUpStatus.OPEN, FollowUpStatus.IN_PROGRESS)
    if raw == "all":
        return ()
    try:
        return tuple(FollowUpStatus(part) for part in raw.split(","))
    except ValueError:
        names = ", ".join(s.value for s in FollowUpStatus)
        raise ValidationFailed("status", f"one or more of: {names}, or all") from None


def task_filter(request: web.Request) -> TaskFilter:
    """The list's filters from the query; an agent sees only theirs and the queues'."""
    query = request.query
    view = query.get("view", "mine")
    if view not in _VIEWS:
        raise ValidationFailed("view", f"choose one of: {', '.join(_VIEWS)}")
    session = require_session(request)
    supervisor = session.role in SUPERVISORS
    queue = query.get("queue") or None
    if queue is not None and (
        len(queue) > 64 or not queue.replace("-", "").replace("_", "").isalnum()
    ):
        raise ValidationFailed("queue", "a queue name")
    owner_raw = query.get("owner_id")
    owner_id = id_from(owner_raw, "owner_id") if owner_raw else None
    if owner_id is not None and not supervisor:
        raise ValidationFailed("owner_id", "only supervisors list another person's tasks")
    if view == "all" and not supervisor and queue is None:
        raise ValidationFailed("view", "agents list their own tasks, a queue's or overdue ones")
    return TaskFilter(
        viewer_id=session.user_id,
        mine=view == "mine",
        queue=queue if view in ("queue", "all", "overdue") else None,
        unowned=view == "queue",
        overdue=view == "overdue",
        statuses=_statuses(query.get("status")),
        owner_id=owner_id,
        limit=int_param(query.get("limit"), "limit", default=200, low=1, high=500),
    )


def _agent_may_see(request: web.Request, row: TaskRow) -> bool:
    session = require_session(request)
    return session.role in SUPERVISORS or row.task.owner_user_id in (None, session.user_id)


@routes.get(TASKS)
@allow(STAFF)
async def list_tasks(request: web.Request) -> web.Response:
    only_params(request, {"view", "queue", "status", "owner_id", "limit"})
    flt = task_filter(request)
    rows = await task_service(request).list(flt)
    if not is_supervisor(request):
        rows = [r for r in rows if _agent_may_see(request, r)]
    return web.json_response({"tasks": [task_json(r) for r in rows]})


async def _visible(request: web.Request) -> TaskRow:
    task_id = id_from(request.match_info["task_id"], "task_id")
    row = await task_service(request).get(task_id)
    if not _agent_may_see(request, row):
        raise TaskForbidden("this task belongs to someone else")
    return row


@routes.get(f"{TASKS}/counts")
@allow(STAFF)
async def task_counts(request: web.Request) -> web.Response:
    only_params(request, set())
    counts = await task_service(request).counts()
    return web.json_response(
        {
            "open": counts.open,
            "in_progress": counts.in_progress,
            "overdue": counts.overdue,
            "at": datetime.now(UTC).isoformat(),
        }
    )


@routes.get(f"{TASKS}/{{task_id}}")
@allow(STAFF)
async def get_task(request: web.Request) -> web.Response:
    only_params(request, set())
    row = await _visible(request)
    await record_audit(
        request.app[DATABASE],
        actor_for(request),
        AuditAction.VIEW,
        "task",
        row.task.id,
        patient_id=row.task.patient_id,
        detail={"via": "api"},
    )
    return web.json_response(task_json(row))


def _priority(body: Body) -> int | None:
    return body.integer("priority")


@routes.post(TASKS)
@allow(STAFF)
async def create_task(request: web.Request) -> web.Response:
    """A task made by hand (a patient card, the inbox)."""
    body = await read_body(request)
    patient_id = body.required_int("patient_id")
    reason = body.required_text("reason", max_length=200)
    priority = _priority(body) or 3
    due_at = parse_moment(body.text("due_at", max_length=40), "due_at")
    if due_at is not None and due_at.tzinfo is None:
        due_at = due_at.replace(tzinfo=request.app[SETTINGS].tz)
    queue = body.text("queue", max_length=64)
    notes = body.text("notes", max_length=4000)
    body.done()
    task = await task_service(request).create(
        actor_for(request),
        patient_id=patient_id,
        reason=reason,
        priority=priority,
        due_at=due_at,
        queue=queue,
        notes=notes,
    )
    row = await task_service(request).get(task.id)
    return web.json_response(task_json(row), status=201)


@routes.post(f"{TASKS}/{{task_id}}/claim")
@allow(STAFF)
async def claim_task(request: web.Request) -> web.Response:
    (await read_body(request)).done()
    task_id = id_from(request.match_info["task_id"], "task_id")
    service = task_service(request)
    await service.claim(task_id, actor_for(request))
    return web.json_response(task_json(await service.get(task_id)))


@routes.post(f"{TASKS}/{{task_id}}/assign")
@allow(SUPERVISORS)
async def assign_task(request: web.Request) -> web.Response:
    """Give the task to ``user_id`` (null: back to its queue)."""
    body = await read_body(request)
    if not body.present("user_id"):
        raise ValidationFailed("user_id", "give a user id, or null to return it to its queue")
    user_id = body.integer("user_id")
    version = body.integer("version")
    body.done()
    task_id = id_from(request.match_info["task_id"], "task_id")
    service = task_service(request)
    await service.assign(task_id, actor_for(request), user_id=user_id, version=version)
    return web.json_response(task_json(await service.get(task_id)))


@routes.patch(f"{TASKS}/{{task_id}}")
@allow(STAFF)
async def update_task(request: web.Request) -> web.Response:
    """Status, notes, outcome (and priority, for supervisors); ``version`` guards edits."""
    body = await read_body(request)
    status = body.text("status", max_length=20)
    notes = (body.text("notes", max_length=4000) or "") if body.present("notes") else None
    outcome = (body.text("outcome", max_length=2000) or "") if body.present("outcome") else None
    priority = _priority(body)
    version = body.integer("version")
    body.done()
    task_id = id_from(request.match_info["task_id"], "task_id")
    service = task_service(request)
    await service.update(
        task_id,
        actor_for(request),
        supervisor=is_supervisor(request),
        status=status,
        notes=notes,
        outcome=outcome,
        priority=priority,
        version=version,
    )
    return web.json_response(task_json(await service.get(task_id)))


async def _patient_number(request: web.Request, patient_id: int) -> str:
    async with request.app[DATABASE].session() as session:
        phones = list(
            await session.scalars(
                select(PatientPhone)
                .where(PatientPhone.patient_id == patient_id)
                .order_by(PatientPhone.is_primary.desc(), PatientPhone.id)
            )
        )
    if not phones:
        raise ValidationFailed("number", "the patient has no phone number on file")
    return phones[0].e164


@routes.post(f"{TASKS}/{{task_id}}/dial")
@allow(STAFF)
async def dial_task(request: web.Request) -> web.Response:
    """Click-to-dial the task's patient (``number``: another of their numbers, optional);
    the call's id (its Linkedid) is kept on the task."""
    body = await read_body(request)
    number = body.text("number", max_length=64)
    body.done()
    task_id = id_from(request.match_info["task_id"], "task_id")
    service = task_service(request)
    actor = actor_for(request)
    row = await service.check_dialable(task_id, actor, supervisor=is_supervisor(request))
    number = number or await _patient_number(request, row.task.patient_id)
    detail = {"event": "dial", "task_id": task_id, "number": number}
    await record_audit(
        request.app[DATABASE],
        actor,
        AuditAction.CREATE,
        "desk",
        actor.label,
        patient_id=row.task.patient_id,
        detail={**detail, "outcome": "attempt"},
    )
    try:
        placed = await request.app[DESK].dialer.dial(require_session(request).username, number)
    except DomainError as exc:
        await record_audit(
            request.app[DATABASE],
            actor,
            AuditAction.CREATE,
            "desk",
            actor.label,
            patient_id=row.task.patient_id,
            detail={**detail, "outcome": f"refused: {exc.code}"},
        )
        raise
    task = await service.record_dial(task_id, actor, call_ref=placed.channel_id)
    return web.json_response(
        {
            "task_id": task.id,
            "linkedid": placed.channel_id,
            "number": placed.number,
            "interface": placed.interface,
        },
        status=202,
    )
