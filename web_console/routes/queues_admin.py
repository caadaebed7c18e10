"""The queues page, /admin/queues: admins create and change queues, their members and the
agents' skills; supervisors read them.

Plain forms (no script): each save is one change through :mod:`hcrm_core.services.queues`
(one transaction, audited), then applied to Asterisk at once; a refusal comes back on the same
form with the message beside its field.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from multidict import MultiDictProxy

from hcrm_core.errors import ValidationFailed
from hcrm_core.models import Role
from hcrm_core.services import queues as svc
from web_console.access import ADMINS, SUPERVISORS, actor_for, allow, require_session
from web_console.keys import DATABASE
from web_console.pages import render
from web_console.queues_fields import BOOLEAN_FIELDS, INTEGER_FIELDS, apply_queues
from web_console.views import id_from

routes = web.RouteTableDef()
PAGE = "/admin/queues"
Form = MultiDictProxy[str | Any]
_NEW_DEFAULTS: dict[str, Any] = {
    "name": "",
    "display_name": "",
    "strategy": "rrmemory",
    "ring_timeout": 15,
    "wrapup_seconds": 10,
    "max_wait_seconds": 0,
    "overflow": "hangup",
    "overflow_queue": "",
    "announce_position": True,
    "announce_holdtime": False,
    "announce_frequency": 60,
    "menu_digit": "",
    "active": True,
    "everyone": True,
    "agents": [],
    "skills": [],
}


def _is_admin(request: web.Request) -> bool:
    return require_session(request).role is Role.ADMIN


async def _context(request: web.Request) -> dict[str, Any]:
    database = request.app[DATABASE]
    agents = await svc.list_agents(database)
    return {
        "queues": await svc.list_queues(database),
        "agents": agents,
        "agent_names": {a.id: a.username for a in agents},
        "skills": await svc.list_skills(database),
        "user_skills": await svc.user_skills(database),
        "strategies": svc.STRATEGIES,
        "overflows": svc.OVERFLOWS,
        "digits": svc.MENU_DIGITS,
        "can_edit": _is_admin(request),
    }


async def _list_page(
    request: web.Request,
    *,
    form: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    notice: str | None = None,
    status: int = 200,
) -> web.Response:
    context = await _context(request) | {
        "form": form or _NEW_DEFAULTS,
        "errors": errors or {},
        "notice": notice,
        "skills_errors": {},
    }
    return render(request, "admin_queues.html", context, status=status)


async def _queue_page(
    request: web.Request,
    queue: svc.QueueView,
    *,
    form: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    notice: str | None = None,
    status: int = 200,
) -> web.Response:
    context = await _context(request) | {
        "queue": queue,
        "form": form or _form_of(queue),
        "errors": errors or {},
        "notice": notice,
    }
    return render(request, "admin_queue_edit.html", context, status=status)


def _form_of(queue: svc.QueueView) -> dict[str, Any]:
    data = queue.as_json()
    members = data.pop("members")
    data["overflow_queue"] = data["overflow_queue"] or ""
    data["menu_digit"] = data["menu_digit"] or ""
    return data | members


def _kept(form: Form) -> dict[str, Any]:
    """The submitted form as the template shows it again after a refusal."""
    kept: dict[str, Any] = {
        name: str(form.get(name, "")).strip()
        for name in ("name", "display_name", "strategy", "overflow", "overflow_queue")
    }
    kept["menu_digit"] = str(form.get("menu_digit", ""))
    for name in INTEGER_FIELDS:
        kept[name] = str(form.get(name, "")).strip()
    for name in (*BOOLEAN_FIELDS, "everyone"):
        kept[name] = name in form
    kept["agents"] = [str(v) for v in form.getall("agents", [])]
    kept["skills"] = [str(v) for v in form.getall("skills", [])]
    return kept


def _settings(kept: dict[str, Any]) -> svc.QueueSettings:
    numbers: dict[str, int] = {}
    for name in INTEGER_FIELDS:
        raw = kept[name]
        if not raw.isascii() or not raw.isdigit():
            raise ValidationFailed(name, "a whole number of seconds (0 or more)")
        numbers[name] = int(raw)
    return svc.QueueSettings(
        display_name=kept["display_name"],
        strategy=kept["strategy"],
        overflow=kept["overflow"],
        overflow_queue=kept["overflow_queue"],
        menu_digit=kept["menu_digit"],
        announce_position=kept["announce_position"],
        announce_holdtime=kept["announce_holdtime"],
        active=kept["active"],
        **numbers,
    )


def _members(kept: dict[str, Any]) -> svc.Members:
    agents = tuple(id_from(v, "members.agents") for v in kept["agents"])
    return svc.Members(kept["everyone"], agents, tuple(kept["skills"]))


def _errors(exc: ValidationFailed) -> dict[str, str]:
    return {exc.field: exc.message}


def _applied_notice(what: str, outcome: dict[str, Any]) -> str:
    if outcome["applied"]:
        return f"{what} Asterisk has the new queues (callers waiting keep their place)."
    return f"{what} Not applied to Asterisk yet: {outcome['apply_error']}."


@routes.get(PAGE)
@allow(SUPERVISORS)
async def queues_page(request: web.Request) -> web.Response:
    return await _list_page(request)


@routes.post(PAGE)
@allow(ADMINS)
async def create_queue(request: web.Request) -> web.Response:
    kept = _kept(await request.post())
    try:
        await svc.create_queue(
            request.app[DATABASE],
            kept["name"],
            _settings(kept),
            _members(kept),
            actor_for(request),
        )
    except ValidationFailed as exc:
        return await _list_page(request, form=kept, errors=_errors(exc), status=exc.http_status)
    outcome = await apply_queues(request)
    queue = await svc.get_queue(request.app[DATABASE], kept["name"])
    notice = _applied_notice(f"Queue {queue.name} created.", outcome)
    return await _queue_page(request, queue, notice=notice)


@routes.get(f"{PAGE}/{{name}}")
@allow(SUPERVISORS)
async def queue_page(request: web.Request) -> web.Response:
    queue = await svc.get_queue(request.app[DATABASE], request.match_info["name"])
    return await _queue_page(request, queue)


@routes.post(f"{PAGE}/{{name}}")
@allow(ADMINS)
async def save_queue(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    kept = _kept(await request.post())
    kept["name"] = name
    try:
        queue = await svc.update_queue(
            request.app[DATABASE],
            name,
            _settings(kept),
            actor_for(request),
            members=_members(kept),
        )
    except ValidationFailed as exc:
        queue = await svc.get_queue(request.app[DATABASE], name)
        return await _queue_page(
            request, queue, form=kept, errors=_errors(exc), status=exc.http_status
        )
    outcome = await apply_queues(request)
    return await _queue_page(request, queue, notice=_applied_notice("Saved.", outcome))


@routes.post(f"{PAGE}/skills/{{user_id}}")
@allow(ADMINS)
async def save_skills(request: web.Request) -> web.Response:
    user_id = id_from(request.match_info["user_id"], "user_id")
    form = await request.post()
    skills = [s for s in str(form.get("skills", "")).split(",") if s.strip()]
    try:
        names = await svc.set_user_skills(
            request.app[DATABASE], user_id, skills, actor_for(request)
        )
    except ValidationFailed as exc:
        return await _list_page(
            request, notice=f"Skills not saved: {exc.message}", status=exc.http_status
        )
    outcome = await apply_queues(request)
    what = f"Skills saved: {', '.join(names) or 'none'}."
    return await _list_page(request, notice=_applied_notice(what, outcome))
