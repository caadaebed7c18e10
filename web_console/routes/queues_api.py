"""Call queues over /api/v1: admins change them, supervisors read them.

Every change is one transaction with its audit row (:mod:`hcrm_core.services.queues`), then
applied to Asterisk at once (queues.conf re-rendered, AMI QueueReload: callers waiting keep
their place). The answer says whether Asterisk has it (``applied``) and, if not, why.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from hcrm_core.services import queues as svc
from web_console.access import ADMINS, SUPERVISORS, actor_for, allow
from web_console.keys import DATABASE
from web_console.queues_fields import apply_queues, read_members, read_queue_body
from web_console.views import id_from, only_params

routes = web.RouteTableDef()
PREFIX = "/api/v1/queues"


def _name(request: web.Request) -> str:
    return request.match_info["name"]


@routes.get(PREFIX)
@allow(SUPERVISORS)
async def list_queues(request: web.Request) -> web.Response:
    only_params(request, set())
    queues = await svc.list_queues(request.app[DATABASE])
    return web.json_response({"queues": [q.as_json() for q in queues]})


@routes.post(PREFIX)
@allow(ADMINS)
async def create_queue(request: web.Request) -> web.Response:
    body = await read_queue_body(request)
    name = body.required_text("name", max_length=64)
    settings = body.settings()
    members = body.members() if body.present("members") else svc.Members()
    body.done()
    queue = await svc.create_queue(
        request.app[DATABASE], name, settings, members, actor_for(request)
    )
    return await _answer(request, queue, status=201)


@routes.get(f"{PREFIX}/{{name}}")
@allow(SUPERVISORS)
async def get_queue(request: web.Request) -> web.Response:
    only_params(request, set())
    queue = await svc.get_queue(request.app[DATABASE], _name(request))
    return web.json_response(queue.as_json())


@routes.patch(f"{PREFIX}/{{name}}")
@allow(ADMINS)
async def update_queue(request: web.Request) -> web.Response:
    body = await read_queue_body(request)
    settings = body.settings()
    body.done()
    queue = await svc.update_queue(
        request.app[DATABASE], _name(request), settings, actor_for(request)
    )
    return await _answer(request, queue)


@routes.get(f"{PREFIX}/{{name}}/members")
@allow(SUPERVISORS)
async def get_members(request: web.Request) -> web.Response:
    only_params(request, set())
    queue = await svc.get_queue(request.app[DATABASE], _name(request))
    return web.json_response(queue.as_json()["members"])


@routes.put(f"{PREFIX}/{{name}}/members")
@allow(ADMINS)
async def set_members(request: web.Request) -> web.Response:
    members = await read_members(request)
    queue = await svc.set_members(
        request.app[DATABASE], _name(request), members, actor_for(request)
    )
    return await _answer(request, queue)


@routes.get("/api/v1/skills")
@allow(SUPERVISORS)
async def list_skills(request: web.Request) -> web.Response:
    only_params(request, set())
    database = request.app[DATABASE]
    by_user = await svc.user_skills(database)
    return web.json_response(
        {
            "skills": await svc.list_skills(database),
            "agents": {str(user_id): skills for user_id, skills in by_user.items()},
        }
    )


@routes.put("/api/v1/skills/{user_id}")
@allow(ADMINS)
async def set_user_skills(request: web.Request) -> web.Response:
    user_id = id_from(request.match_info["user_id"], "user_id")
    body = await read_queue_body(request)
    skills = body.names("skills", str)
    body.done()
    names = await svc.set_user_skills(request.app[DATABASE], user_id, skills, actor_for(request))
    return web.json_response({"user_id": user_id, "skills": names, **await apply_queues(request)})


async def _answer(request: web.Request, queue: svc.QueueView, *, status: int = 200) -> web.Response:
    data: dict[str, Any] = queue.as_json() | await apply_queues(request)
    return web.json_response(data, status=status)
