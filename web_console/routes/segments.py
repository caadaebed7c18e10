"""Segment pages (supervisors and admins): /segments lists them with their counts, the RFM
groups and the tags; a segment's page lists its members a page at a time; the form creates
and edits one. Tagging a patient from the patient card posts here too.

Plain forms (no script): each save is one audited change through
:mod:`hcrm_core.services.segments`; a refusal comes back on the same form (422) with the
message beside its field.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from hcrm_core.errors import FieldErrors, ValidationFailed
from hcrm_core.services import patient_tags
from hcrm_core.services.rfm import GROUP_LABELS, RFM_GROUPS
from hcrm_core.services.segments_definition import AGE_BANDS
from web_console import segment_form
from web_console.access import SUPERVISORS, actor_for, allow
from web_console.keys import DATABASE
from web_console.pages import render
from web_console.segment_form import SegmentForm
from web_console.segment_views import (
    definition_summary,
    members_table,
    segment_id_from,
    segment_service,
    today_of,
)
from web_console.views import int_param, only_params, patient_id_from

routes = web.RouteTableDef()
PAGE = "/segments"
PER_PAGE = 50


async def _form_page(
    request: web.Request, form: SegmentForm, *, segment_id: int | None, status: int = 200
) -> web.Response:
    context = {
        "form": form,
        "segment_id": segment_id,
        "error_list": form.error_list(),
        "tags": await patient_tags.list_tags(request.app[DATABASE]),
        "age_bands": list(AGE_BANDS),
        "groups": [(g, GROUP_LABELS[g]) for g in RFM_GROUPS],
        "field_id": segment_form.field_id,
    }
    return render(request, "segment_form.html", context, status=status)


@routes.get(PAGE)
@allow(SUPERVISORS)
async def segments_page(request: web.Request) -> web.Response:
    only_params(request, {"notice"})
    return await _list_page(request, notice=request.query.get("notice"))


async def _list_page(
    request: web.Request,
    *,
    notice: str | None = None,
    tag_form: dict[str, str] | None = None,
    tag_errors: dict[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    service = segment_service(request)
    counts = await service.rfm_counts()
    segments = await service.all()
    context = {
        "segments": segments,
        "summaries": {s.id: definition_summary(s.definition) for s, _ in segments},
        "groups": [(g, GROUP_LABELS[g], counts[g]) for g in RFM_GROUPS],
        "tags": await patient_tags.list_tags(request.app[DATABASE]),
        "notice": notice if notice in _NOTICES else None,
        "notice_text": _NOTICES.get(notice or ""),
        "tag_form": tag_form or {},
        "tag_errors": tag_errors or {},
    }
    return render(request, "segments.html", context, status=status)


_NOTICES = {"deleted": "The segment was deleted.", "tag": "The tag was created."}


@routes.get(PAGE + "/new")
@allow(SUPERVISORS)
async def new_segment_page(request: web.Request) -> web.Response:
    only_params(request, set())
    return await _form_page(request, SegmentForm(), segment_id=None)


@routes.post(PAGE)
@allow(SUPERVISORS)
async def create_segment(request: web.Request) -> web.StreamResponse:
    form = segment_form.form_from_post(await request.post())
    return await _save(request, form, segment_id=None)


async def _save(
    request: web.Request, form: SegmentForm, *, segment_id: int | None
) -> web.StreamResponse:
    definition = segment_form.definition_from_form(form)
    service = segment_service(request)
    name, description = form.get("name"), form.get("description")
    try:
        if form.errors:
            raise FieldErrors(dict(form.errors))
        if segment_id is None:
            segment = await service.create(name, description, definition, actor_for(request))
        else:
            segment = await service.update(
                segment_id, name, description, definition, actor_for(request)
            )
    except FieldErrors as exc:
        form.errors = {**segment_form.form_errors(exc.errors), **form.errors}
        return await _form_page(request, form, segment_id=segment_id, status=422)
    except ValidationFailed as exc:
        field = segment_form.form_errors({exc.field: ""}).popitem()[0]
        form.errors = {field: exc.message.removeprefix(f"{exc.field}: ")}
        return await _form_page(request, form, segment_id=segment_id, status=422)
    raise web.HTTPSeeOther(f"{PAGE}/{segment.id}")


@routes.get(PAGE + "/{segment_id}")
@allow(SUPERVISORS)
async def segment_page(request: web.Request) -> web.Response:
    only_params(request, {"page"})
    segment_id = segment_id_from(request)
    page = int_param(request.query.get("page"), "page", default=1, low=1, high=1_000_000)
    service = segment_service(request)
    segment = await service.get(segment_id)
    total, members = await service.members(segment_id, offset=(page - 1) * PER_PAGE, limit=PER_PAGE)
    context: dict[str, Any] = {
        "segment": segment,
        "total": total,
        "page": page,
        "pages": max(1, -(-total // PER_PAGE)),
        "table": members_table(members, today_of(request)),
        "members": members,
        "summary": _summary(segment.definition),
    }
    return render(request, "segment.html", context)


def _summary(definition: dict[str, Any]) -> list[tuple[str, str]]:
    """The definition in words, one (filter, value) per line."""
    lines = []
    for key, value in definition.items():
        if key == "rfm":
            shown = ", ".join(f"{k.replace('_', ' ').upper()} {v}" for k, v in value.items())
        elif key == "rfm_groups":
            shown = ", ".join(GROUP_LABELS.get(v, v) for v in value)
        elif isinstance(value, bool):
            shown = "yes" if value else "no"
        elif isinstance(value, list):
            shown = ", ".join(str(v) for v in value)
        else:
            shown = str(value)
        lines.append((segment_form.LABELS.get(key, "RFM scores"), shown))
    return lines


@routes.get(PAGE + "/{segment_id}/edit")
@allow(SUPERVISORS)
async def edit_segment_page(request: web.Request) -> web.Response:
    only_params(request, set())
    segment_id = segment_id_from(request)
    segment = await segment_service(request).get(segment_id)
    form = segment_form.form_from_segment(segment.name, segment.description, segment.definition)
    return await _form_page(request, form, segment_id=segment_id)


@routes.post(PAGE + "/{segment_id}/edit")
@allow(SUPERVISORS)
async def update_segment(request: web.Request) -> web.StreamResponse:
    segment_id = segment_id_from(request)
    form = segment_form.form_from_post(await request.post())
    return await _save(request, form, segment_id=segment_id)


@routes.post(PAGE + "/{segment_id}/delete")
@allow(SUPERVISORS)
async def delete_segment(request: web.Request) -> web.StreamResponse:
    await segment_service(request).delete(segment_id_from(request), actor_for(request))
    raise web.HTTPSeeOther(PAGE + "?notice=deleted")


@routes.post(PAGE + "/tags")
@allow(SUPERVISORS)
async def create_tag(request: web.Request) -> web.StreamResponse:
    post = await request.post()
    kept = {key: str(post.get(key) or "") for key in ("name", "description")}
    try:
        await patient_tags.create_tag(
            request.app[DATABASE], kept["name"], kept["description"], actor_for(request)
        )
    except ValidationFailed as exc:
        errors = {exc.field: exc.message.removeprefix(f"{exc.field}: ")}
        return await _list_page(request, tag_form=kept, tag_errors=errors, status=422)
    raise web.HTTPSeeOther(PAGE + "?notice=tag#tags")


@routes.post("/patients/{patient_id}/tags")
@allow(SUPERVISORS)
async def tag_from_card(request: web.Request) -> web.StreamResponse:
    """The patient card's tag form: ``tag`` and ``action`` (add or remove)."""
    patient_id = patient_id_from(request)
    post = await request.post()
    action = str(post.get("action") or "")
    if action not in ("add", "remove"):
        raise ValidationFailed("action", "add or remove")
    await patient_tags.set_tag(
        request.app[DATABASE],
        patient_id,
        str(post.get("tag") or ""),
        actor_for(request),
        on=action == "add",
    )
    raise web.HTTPSeeOther(f"/patients/{patient_id}#tags")
