"""Supervisor review of call recordings: search, the player page, QA scorecards, legal hold.

Access is decided once in ``hcrm_core.services.recordings`` (supervisors see all; agents their
own, or none by configuration; someone else's recording is a 404, like a missing one). The
transcript view, every list or search, and legal holds (admins only) are audited there;
playing and downloading are audited in ``recordings_media``.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from aiohttp import web
from sqlalchemy import select

from callcenter.recording.crypto import RecordingCipher
from hcrm_core.errors import PatientNotFound, ValidationFailed
from hcrm_core.models import Role, User
from hcrm_core.services.call_records import DISPOSITIONS
from hcrm_core.services.recording_search import RecordingFilter, TextIndex, search_recordings
from hcrm_core.services.recordings import (
    Decrypt,
    Viewer,
    recording_detail,
    save_review,
    set_legal_hold,
)
from web_console.access import STAFF, SUPERVISORS, actor_for, allow, require_session
from web_console.keys import CALLS, CAMPAIGNS, DATABASE, DESK, PATIENTS, SETTINGS
from web_console.pages import page
from web_console.views import ascii_int, id_from, only_params

routes = web.RouteTableDef()
_FILTERS = {"from", "to", "agent", "queue", "campaign", "patient", "disposition", "min", "max"}
_FILTERS |= {"q", "limit"}
MAX_NOTES = 4000


def viewer_for(request: web.Request) -> Viewer:
    session = require_session(request)
    access = request.app[SETTINGS].recording.agent_access
    return Viewer(session.user_id, session.role, access)


def decrypter(request: web.Request) -> Decrypt | None:
    cipher = RecordingCipher.from_setting(request.app[SETTINGS].recording.key.get_secret_value())
    return cipher.decrypt_text if cipher else None


def text_index(request: web.Request) -> TextIndex | None:
    cipher = RecordingCipher.from_setting(request.app[SETTINGS].recording.key.get_secret_value())
    return cipher.index if cipher else None


def recording_id_from(request: web.Request) -> int:
    return id_from(request.match_info["recording_id"], "recording_id")


def _int(raw: str | None, name: str) -> int | None:
    if raw is None or raw == "":
        return None
    return id_from(raw, name)


def _seconds(raw: str | None, name: str) -> float | None:
    if raw is None or raw == "":
        return None
    try:
        value = float(raw)
    except ValueError:
        raise ValidationFailed(name, "must be a number of seconds") from None
    if not 0 <= value <= 86_400:
        raise ValidationFailed(name, "must be between 0 and 86400 seconds")
    return value


def _day(raw: str | None, name: str) -> date | None:
    if raw is None or raw == "":
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ValidationFailed(name, "must be a date like 2026-11-23") from None


def _text(raw: str | None, name: str, limit: int) -> str | None:
    if raw is None or raw.strip() == "":
        return None
    if len(raw) > limit:
        raise ValidationFailed(name, f"at most {limit} characters")
    return raw.strip()


def parse_filter(request: web.Request) -> RecordingFilter:
    """The search form's fields, each checked; a bad one is a 422 naming it."""
    only_params(request, _FILTERS)
    q = request.query
    start, end = _day(q.get("from"), "from"), _day(q.get("to"), "to")
    tz = request.app[SETTINGS].tz

    def at(day: date | None, extra: int = 0) -> datetime | None:
        if day is None:
            return None
        return datetime.combine(day + timedelta(days=extra), time(), tz).astimezone(UTC)

    limit = _int(q.get("limit"), "limit") or 50
    return RecordingFilter(
        date_from=at(start),
        date_to=at(end, 1),
        agent_user_id=_int(q.get("agent"), "agent"),
        queue=_text(q.get("queue"), "queue", 80),
        campaign_id=_int(q.get("campaign"), "campaign"),
        patient_id=_int(q.get("patient"), "patient"),
        disposition=_text(q.get("disposition"), "disposition", 80),
        min_seconds=_seconds(q.get("min"), "min"),
        max_seconds=_seconds(q.get("max"), "max"),
        text=_text(q.get("q"), "q", 100),
        limit=limit,
    )


@routes.get("/recordings")
@allow(STAFF)
@page("recordings.html")
async def list_page(request: web.Request) -> dict[str, Any]:
    filters = parse_filter(request)
    results = await search_recordings(
        request.app[DATABASE],
        viewer_for(request),
        filters,
        decrypter(request),
        index=text_index(request),
        actor=actor_for(request),
    )
    return {"results": results, "form": dict(request.query), **await _pickers(request, filters)}


async def _pickers(request: web.Request, filters: RecordingFilter) -> dict[str, Any]:
    """What the search form offers to choose from, so nobody types an id: the agents (by
    name and login), the dispositions, the live calls to monitor, the patient searched for."""
    viewer = viewer_for(request)
    agents: list[User] = []
    if viewer.sees_all:
        async with request.app[DATABASE].session() as session:
            agents = list(await session.scalars(select(User).order_by(User.display_name)))
    patient = None
    if filters.patient_id is not None:
        with contextlib.suppress(PatientNotFound):
            patient = await request.app[PATIENTS].get(filters.patient_id)
    live = request.app[CALLS].live_calls() if viewer.sees_all else []
    campaigns = await request.app[CAMPAIGNS].all() if viewer.sees_all else []
    return {
        "agents": agents,
        "campaigns": campaigns,
        "queues": request.app[DESK].agents.queues,
        "dispositions": DISPOSITIONS,
        "live_calls": [c for c in live if c.answered_at is not None],
        "patient_filter": patient,
    }


@routes.get("/recordings/{recording_id}")
@allow(STAFF)
@page("recording_detail.html")
async def detail_page(request: web.Request) -> dict[str, Any]:
    only_params(request, set())
    detail = await recording_detail(
        request.app[DATABASE],
        viewer_for(request),
        recording_id_from(request),
        decrypter(request),
        actor_for(request),
    )
    session = require_session(request)
    mine = next((r for r in detail["reviews"] if r["reviewer_user_id"] == session.user_id), None)
    settings = request.app[SETTINGS].recording
    return {
        "r": detail,
        "criteria": settings.qa_criteria,
        "max_score": settings.qa_max_score,
        "my_review": mine,
        "can_review": viewer_for(request).sees_all,
        "can_hold": session.role is Role.ADMIN,
    }


def parse_review(form: Any, criteria: list[str], max_score: int) -> dict[str, int]:
    scores: dict[str, int] = {}
    for index, criterion in enumerate(criteria):
        field = f"score_{index}"
        raw = form.get(field, "")
        score = ascii_int(raw, max_digits=4) if isinstance(raw, str) else None
        if score is None or not 0 <= score <= max_score:
            raise ValidationFailed(field, f"{criterion}: a score from 0 to {max_score}")
        scores[criterion] = score
    return scores


@routes.post("/recordings/{recording_id}/review")
@allow(SUPERVISORS)
async def review(request: web.Request) -> web.StreamResponse:
    recording_id = recording_id_from(request)
    form = await request.post()
    settings = request.app[SETTINGS].recording
    scores = parse_review(form, settings.qa_criteria, settings.qa_max_score)
    notes = form.get("notes", "")
    if not isinstance(notes, str) or len(notes) > MAX_NOTES:
        raise ValidationFailed("notes", f"at most {MAX_NOTES} characters")
    database = request.app[DATABASE]
    await save_review(database, actor_for(request), recording_id, scores, notes or None)
    raise web.HTTPSeeOther(f"/recordings/{recording_id}")


@routes.post("/recordings/{recording_id}/hold")
@allow(SUPERVISORS)
async def legal_hold(request: web.Request) -> web.StreamResponse:
    recording_id = recording_id_from(request)
    form = await request.post()
    hold = form.get("hold")
    if hold not in ("on", "off"):
        raise ValidationFailed("hold", "must be 'on' or 'off'")
    await set_legal_hold(
        request.app[DATABASE], actor_for(request), viewer_for(request), recording_id, hold == "on"
    )
    raise web.HTTPSeeOther(f"/recordings/{recording_id}")
