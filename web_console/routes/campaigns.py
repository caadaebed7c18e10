"""Campaign pages (supervisors and admins): list, create, start, pause, stop, progress, CSV.

Settings (targets, pacing, window, retries, questions and their escalation thresholds) are
edited as JSON: they are data, validated by ``hcrm_core.services.campaigns_config``; a bad
field is named in the 422 page. Only admins may give a campaign settings, at creation (a
supervisor's draft gets the defaults) or after.
The CSV export is audited (it holds patients' answers).
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from callcenter.outbound.export import results_csv
from hcrm_core.errors import ValidationFailed
from hcrm_core.models import AuditAction, CampaignKind, Role
from hcrm_core.services.audit import record_audit
from hcrm_core.services.campaigns import CampaignService
from hcrm_core.services.campaigns_config import DEFAULT_QUESTIONS
from web_console.access import ADMINS, SUPERVISORS, actor_for, allow, require_session
from web_console.input_text import BadInput
from web_console.json_body import MAX_DEPTH, check_parsed
from web_console.keys import CAMPAIGNS, DATABASE
from web_console.pages import page, render
from web_console.views import ascii_int

routes = web.RouteTableDef()
_ACTIONS = ("start", "pause", "stop")
_ADMIN_SETTINGS = (
    "settings: only admins set a campaign's settings; leave them empty to create a draft "
    "with the defaults, which an admin can then edit"
)


def _service(request: web.Request) -> CampaignService:
    return request.app[CAMPAIGNS]


def _campaign_id(request: web.Request) -> int:
    campaign_id = ascii_int(request.match_info["campaign_id"])
    if campaign_id is None:
        raise web.HTTPNotFound(text="no such campaign")
    return campaign_id


def _settings_from(form: Any) -> dict[str, Any]:
    raw = str(form.get("settings") or "").strip() or "{}"
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValidationFailed(
            "settings", f"not valid JSON ({exc.msg}, line {exc.lineno})"
        ) from exc
    except RecursionError:
        raise BadInput("settings", f"nested deeper than {MAX_DEPTH} levels") from None
    check_parsed(value, "settings")
    if not isinstance(value, dict):
        raise ValidationFailed("settings", "give a JSON object")
    return value


@routes.get("/campaigns")
@allow(SUPERVISORS)
@page("campaigns.html")
async def campaigns_page(request: web.Request) -> dict[str, Any]:
    service = _service(request)
    campaigns = await service.all()
    progress = {c.id: await service.progress(c.id) for c in campaigns}
    examples = {
        kind.value: json.dumps({"questions": DEFAULT_QUESTIONS[kind]}, indent=1)
        for kind in CampaignKind
    }
    return {
        "campaigns": campaigns,
        "progress": progress,
        "kinds": list(CampaignKind),
        "examples": examples,
    }


@routes.post("/campaigns")
@allow(SUPERVISORS)
async def create_campaign(request: web.Request) -> web.StreamResponse:
    """A draft campaign; only admins give settings (a supervisor's draft gets the defaults).

    Otherwise "only admins change settings" would be one new campaign away.
    """
    form = await request.post()
    if str(form.get("settings") or "").strip() and require_session(request).role != Role.ADMIN:
        context = {"status": 403, "message": _ADMIN_SETTINGS, "field": "settings"}
        return render(request, "error.html", context, status=403)
    try:
        settings = _settings_from(form)
        campaign = await _service(request).create(
            str(form.get("name") or ""), str(form.get("kind") or ""), settings, actor_for(request)
        )
    except ValidationFailed as exc:
        context = {"status": exc.http_status, "message": exc.message, "field": exc.field}
        return render(request, "error.html", context, status=exc.http_status)
    raise web.HTTPSeeOther(f"/campaigns/{campaign.id}")


@routes.get("/campaigns/{campaign_id}")
@allow(SUPERVISORS)
@page("campaign_detail.html")
async def campaign_page(request: web.Request) -> dict[str, Any]:
    service = _service(request)
    campaign = await service.get(_campaign_id(request))
    return {
        "campaign": campaign,
        "progress": await service.progress(campaign.id),
        "settings_json": json.dumps(campaign.settings, indent=1, ensure_ascii=False),
        "actions": _ACTIONS,
    }


@routes.post("/campaigns/{campaign_id}/settings")
@allow(ADMINS)
async def update_settings(request: web.Request) -> web.StreamResponse:
    campaign_id = _campaign_id(request)
    form = await request.post()
    await _service(request).update_settings(campaign_id, _settings_from(form), actor_for(request))
    raise web.HTTPSeeOther(f"/campaigns/{campaign_id}")


@routes.post("/campaigns/{campaign_id}/{action}")
@allow(SUPERVISORS)
async def change_status(request: web.Request) -> web.StreamResponse:
    campaign_id = _campaign_id(request)
    action = request.match_info["action"]
    if action not in _ACTIONS:
        raise web.HTTPNotFound(text="no such action")
    service, actor = _service(request), actor_for(request)
    if action == "start":
        await service.start(campaign_id, actor)
    elif action == "pause":
        await service.pause(campaign_id, actor)
    else:
        await service.stop(campaign_id, actor)
    raise web.HTTPSeeOther(f"/campaigns/{campaign_id}")


@routes.get("/campaigns/{campaign_id}/progress")
@allow(SUPERVISORS)
async def progress_json(request: web.Request) -> web.Response:
    progress = await _service(request).progress(_campaign_id(request))
    body = progress.as_dict()
    body["status"] = progress.status.value
    return web.json_response(body)


@routes.get("/campaigns/{campaign_id}/results.csv")
@allow(SUPERVISORS)
async def results_export(request: web.Request) -> web.Response:
    campaign_id = _campaign_id(request)
    service = _service(request)
    campaign = await service.get(campaign_id)
    rows = await service.results(campaign_id)
    await record_audit(
        request.app[DATABASE],
        actor_for(request),
        AuditAction.EXPORT,
        "campaign_results",
        campaign_id,
        detail={"rows": len(rows)},
    )
    return web.Response(
        text=results_csv(campaign, rows),
        content_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="campaign-{campaign_id}.csv"'},
    )
