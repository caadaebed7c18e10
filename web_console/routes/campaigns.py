"""Campaign pages (supervisors and admins): list, create, edit, start, pause, stop, CSV.

Settings (who is called, calling window, pacing, retries, questions with their answers and
escalation rules) are edited as fields (:mod:`web_console.campaign_form`) and validated by
``hcrm_core.services.campaigns_config``; a refused form comes back as typed with every message
beside its field (422). Only admins give a campaign settings, at creation (a supervisor's draft
gets the defaults) or after. A saved campaign's questions are rendered to sound in the
background (:mod:`callcenter.outbound.question_prompts`); its page shows how that went.
Scripts may still post the settings as one JSON ``settings`` field.
The CSV export is audited (it holds patients' answers).
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web
from sqlalchemy import func, select

from callcenter.outbound.export import results_csv
from hcrm_core.errors import FieldErrors, ValidationFailed
from hcrm_core.models import (
    AuditAction,
    Campaign,
    CampaignKind,
    Department,
    Patient,
    Role,
    Segment,
)
from hcrm_core.services.audit import record_audit
from hcrm_core.services.campaigns import CampaignService
from hcrm_core.services.campaigns_config import (
    DEFAULT_QUESTIONS,
    QUESTIONLESS_KINDS,
    parse_config,
    stored,
)
from hcrm_core.services.queues import list_queues
from web_console import campaign_form
from web_console.access import ADMINS, SUPERVISORS, actor_for, allow, require_session
from web_console.campaign_form import FormState, Parsed
from web_console.input_text import BadInput
from web_console.json_body import MAX_DEPTH, check_parsed
from web_console.keys import CAMPAIGN_PROMPTS, CAMPAIGNS, DATABASE
from web_console.pages import render
from web_console.views import ascii_int

routes = web.RouteTableDef()
_ACTIONS = ("start", "pause", "stop")
_ADMIN_SETTINGS = (
    "settings: only admins set a campaign's settings; leave them empty to create a draft "
    "with the defaults, which an admin can then edit"
)
# What a supervisor's create form sends; anything more is a setting.
_DRAFT_FIELDS = frozenset({"name", "kind", "csrf_token", "settings"})


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


def _json_post(form: Any) -> bool:
    """A script's post: the settings as one JSON field and no form fields."""
    return "settings" in form and not any(name.startswith("window.") for name in form)


# -- what the form offers --------------------------------------------------------------------------


async def _choices(request: web.Request) -> dict[str, Any]:
    database = request.app[DATABASE]
    async with database.session() as session:
        departments = list(
            await session.scalars(
                select(Department).where(Department.active.is_(True)).order_by(Department.name)
            )
        )
        rows = await session.execute(select(Segment.id, Segment.name).order_by(Segment.name))
        segments = [(segment_id, name) for segment_id, name in rows]
    queues = await list_queues(database, active_only=True)
    return {
        "departments": [(d.id, d.name) for d in departments],
        "segments": segments,
        "queues": [(q.name, q.display_name or q.name) for q in queues],
        "kinds": list(CampaignKind),
        "questionless_kinds": [kind.value for kind in QUESTIONLESS_KINDS],
        "answer_keys": campaign_form.ANSWER_KEYS,
        "languages": campaign_form.LANGUAGES,
        "weekdays": campaign_form.WEEKDAYS,
        "retry_statuses": campaign_form.RETRY_STATUSES,
    }


async def _mrns_of(request: web.Request, ids: list[int]) -> list[str]:
    if not ids:
        return []
    async with request.app[DATABASE].session() as session:
        rows = await session.execute(select(Patient.id, Patient.mrn).where(Patient.id.in_(ids)))
    by_id = {row[0]: row[1] for row in rows}
    return [by_id[i] for i in ids if i in by_id]


async def _ids_of(request: web.Request, mrns: list[str]) -> tuple[list[int], list[str]]:
    """Patient ids for record numbers (in their order), and the record numbers not found."""
    if not mrns:
        return [], []
    wanted = [mrn.upper() for mrn in mrns]
    async with request.app[DATABASE].session() as session:
        rows = await session.execute(
            select(func.upper(Patient.mrn), Patient.id).where(func.upper(Patient.mrn).in_(wanted))
        )
    by_mrn = {row[0]: row[1] for row in rows}
    return [by_mrn[m] for m in wanted if m in by_mrn], [m for m in wanted if m not in by_mrn]


async def _segment_exists(request: web.Request, segment_id: int) -> bool:
    async with request.app[DATABASE].session() as session:
        return await session.get(Segment, segment_id) is not None


def _default_form() -> FormState:
    """The settings' defaults, with no question typed (empty means the kind's standard ones)."""
    defaults = stored(parse_config(CampaignKind.REMINDER, {}))  # a kind that asks nothing
    return campaign_form.form_from_settings(defaults, [])


# -- checking a form -------------------------------------------------------------------------------


async def _checked_settings(
    request: web.Request, state: FormState, kind: CampaignKind | None, *, creating: bool
) -> dict[str, Any]:
    """The settings a form gives, or :class:`FieldErrors` naming every field at fault."""
    parsed = campaign_form.settings_from_form(state)
    errors = dict(parsed.errors)
    ids, unknown = await _ids_of(request, parsed.mrns)
    if unknown:
        errors[campaign_form.MRNS] = f"no patient has the record number {', '.join(unknown)}"
    if ids:
        parsed.settings["targets"]["patient_ids"] = ids
    segment_id = parsed.settings["targets"].get("segment_id")
    if segment_id is not None and not await _segment_exists(request, segment_id):
        errors["targets.segment_id"] = "no such segment"
    if creating and not parsed.settings["questions"]:
        del parsed.settings["questions"]  # the kind's standard questions
    if kind is not None:
        errors.update(_config_errors(kind, parsed, errors))
    if errors:
        raise FieldErrors(errors)
    return parsed.settings


def _config_errors(kind: CampaignKind, parsed: Parsed, known: dict[str, str]) -> dict[str, str]:
    try:
        parse_config(kind, parsed.settings)
    except FieldErrors as exc:
        found = {parsed.form_field(path): message for path, message in exc.errors.items()}
    except ValidationFailed as exc:
        found = {parsed.form_field(exc.field): exc.message.removeprefix(f"{exc.field}: ")}
    else:
        return {}
    # A field the form already refused (not a number...) keeps that message.
    return {name: message for name, message in found.items() if name not in known}


def _kind(raw: str, errors: dict[str, str]) -> CampaignKind | None:
    try:
        return CampaignKind(raw)
    except ValueError:
        errors["kind"] = "choose the kind of campaign"
        return None


# -- pages -----------------------------------------------------------------------------------------


async def _list_page(
    request: web.Request, form: FormState, *, name: str = "", kind: str = "", status: int = 200
) -> web.Response:
    service = _service(request)
    campaigns = await service.all()
    progress = {c.id: await service.progress(c.id) for c in campaigns}
    examples = {
        kind_.value: [q["text"]["en"] for q in DEFAULT_QUESTIONS[kind_]] for kind_ in CampaignKind
    }
    context = {
        "campaigns": campaigns,
        "progress": progress,
        "examples": examples,
        "form": form,
        "error_list": campaign_form.error_list(form),
        "name": name,
        "chosen_kind": kind or CampaignKind.SURVEY.value,
        **await _choices(request),
    }
    return render(request, "campaigns.html", context, status=status)


@routes.get("/campaigns")
@allow(SUPERVISORS)
async def campaigns_page(request: web.Request) -> web.Response:
    return await _list_page(request, _default_form())


@routes.post("/campaigns")
@allow(SUPERVISORS)
async def create_campaign(request: web.Request) -> web.StreamResponse:
    """A draft campaign; only admins give settings (a supervisor's draft gets the defaults).

    Otherwise "only admins change settings" would be one new campaign away.
    """
    post = await request.post()
    is_admin = require_session(request).role == Role.ADMIN
    settings_given = str(post.get("settings") or "").strip() or (set(post) - _DRAFT_FIELDS)
    if settings_given and not is_admin:
        context = {"status": 403, "message": _ADMIN_SETTINGS, "field": "settings"}
        return render(request, "error.html", context, status=403)
    name, raw_kind = str(post.get("name") or ""), str(post.get("kind") or "")
    if _json_post(post):  # a script's JSON
        try:
            campaign = await _service(request).create(
                name, raw_kind, _settings_from(post), actor_for(request)
            )
        except ValidationFailed as exc:
            context = {"status": exc.http_status, "message": exc.message, "field": exc.field}
            return render(request, "error.html", context, status=exc.http_status)
        return _saved(request, campaign)
    # The page's form: a supervisor's (name and kind: the defaults) or an admin's.
    state = campaign_form.form_from_post(post) if settings_given else _default_form()
    errors: dict[str, str] = {}
    if not 0 < len(name.strip()) <= 120:
        errors["name"] = "give the campaign a name (up to 120 characters)"
    kind = _kind(raw_kind, errors)
    try:
        settings: dict[str, Any] = {}
        if settings_given:
            settings = await _checked_settings(request, state, kind, creating=True)
        if errors:
            raise FieldErrors(errors)
        assert kind is not None
        campaign = await _service(request).create(name, kind, settings, actor_for(request))
    except FieldErrors as exc:
        state.errors = {**errors, **exc.errors}
        return await _list_page(request, state, name=name, kind=raw_kind, status=422)
    return _saved(request, campaign)


def _saved(request: web.Request, campaign: Campaign) -> web.StreamResponse:
    prompts = request.app[CAMPAIGN_PROMPTS]
    if prompts is not None and campaign.kind not in QUESTIONLESS_KINDS:
        prompts.render(campaign)
    raise web.HTTPSeeOther(f"/campaigns/{campaign.id}")


async def _detail_page(
    request: web.Request, campaign: Campaign, form: FormState | None = None, *, status: int = 200
) -> web.Response:
    service = _service(request)
    if form is None:
        ids = list(campaign.settings.get("targets", {}).get("patient_ids") or [])
        mrns = await _mrns_of(request, ids)
        form = campaign_form.form_from_settings(campaign.settings, mrns)
    prompts = request.app[CAMPAIGN_PROMPTS]
    context = {
        "campaign": campaign,
        "progress": await service.progress(campaign.id),
        "settings_json": json.dumps(campaign.settings, indent=1, ensure_ascii=False),
        "actions": _ACTIONS,
        "form": form,
        "error_list": campaign_form.error_list(form),
        "asks_questions": campaign.kind not in QUESTIONLESS_KINDS,
        "prompt_status": await prompts.status(campaign.id) if prompts is not None else None,
        "prompts_configured": prompts is not None,
        **await _choices(request),
    }
    return render(request, "campaign_detail.html", context, status=status)


@routes.get("/campaigns/{campaign_id}")
@allow(SUPERVISORS)
async def campaign_page(request: web.Request) -> web.Response:
    return await _detail_page(request, await _service(request).get(_campaign_id(request)))


@routes.post("/campaigns/{campaign_id}/settings")
@allow(ADMINS)
async def update_settings(request: web.Request) -> web.StreamResponse:
    campaign_id = _campaign_id(request)
    post = await request.post()
    service = _service(request)
    if _json_post(post):
        campaign = await service.update_settings(
            campaign_id, _settings_from(post), actor_for(request)
        )
        return _saved(request, campaign)
    campaign = await service.get(campaign_id)
    state = campaign_form.form_from_post(post)
    try:
        settings = await _checked_settings(request, state, campaign.kind, creating=False)
    except FieldErrors as exc:
        state.errors = exc.errors
        return await _detail_page(request, campaign, state, status=422)
    kept = {k: v for k, v in campaign.settings.items() if k not in campaign_form.FORM_SETTINGS}
    campaign = await service.update_settings(campaign_id, kept | settings, actor_for(request))
    return _saved(request, campaign)


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
