"""The opening-hours page, /admin/hours: supervisors and admins keep each queue's week, the
holidays and what a closed queue offers, and see the after-hours requests callers left.

Plain forms: each save is one change through :mod:`hcrm_core.services.opening_hours` (one
transaction, audited); a refusal comes back on the page with the message beside its field.
A week is typed one line per day (``08:00-12:00, 13:00-18:00``; empty: closed that day; every
day empty: always open). A voicemail plays from ``/admin/hours/requests/<id>/audio`` (audited;
decrypted while it streams once the recording processor has sealed it).
"""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, date, datetime
from typing import Any

from aiohttp import web
from sqlalchemy import select

from callcenter.ivr.flows.main_menu import AGENT_QUEUE
from callcenter.recording.crypto import RecordingCipher
from callcenter.recording.voicemails import VoicemailFile, voicemail_file
from hcrm_core.errors import ValidationFailed
from hcrm_core.models import AuditAction, Patient
from hcrm_core.services.audit import record_audit
from hcrm_core.services.opening_calendar import WEEKDAYS, Interval, clock_text
from hcrm_core.services.opening_hours import (
    EMERGENCY_DIGITS,
    MESSAGE_LANGUAGES,
    ClosedOptions,
    OpeningHoursService,
    make_interval,
    parse_queue,
)
from web_console.access import SUPERVISORS, actor_for, allow
from web_console.keys import SETTINGS
from web_console.pages import render
from web_console.routes.hours_api import hours_service
from web_console.routes.recordings_media import byte_range
from web_console.views import id_from

routes = web.RouteTableDef()
PAGE = "/admin/hours"
_RANGE_RE = re.compile(r"^\s*(\d{1,2}:\d{2})\s*[-–]\s*(\d{1,2}:\d{2})\s*$")


def week_text(intervals: list[Interval]) -> dict[str, str]:
    """Each weekday's intervals as the form shows them (``08:00-12:00, 13:00-18:00``)."""
    days: dict[str, list[str]] = {name: [] for name in WEEKDAYS}
    for interval in sorted(intervals, key=lambda i: (i.weekday, i.opens)):
        days[WEEKDAYS[interval.weekday]].append(
            f"{clock_text(interval.opens)}-{clock_text(interval.closes)}"
        )
    return {name: ", ".join(ranges) for name, ranges in days.items()}


def parse_week(form: dict[str, str]) -> list[Interval]:
    """One line per weekday, comma-separated ``HH:MM-HH:MM`` ranges; errors name the day."""
    intervals: list[Interval] = []
    for number, name in enumerate(WEEKDAYS):
        for part in filter(None, (p.strip() for p in form.get(name, "").split(","))):
            match = _RANGE_RE.match(part)
            if match is None:
                raise ValidationFailed(name, f"write hours as 08:00-18:00, not {part!r}")
            try:
                intervals.append(make_interval(number, match.group(1), match.group(2)))
            except ValidationFailed as exc:
                raise ValidationFailed(name, f"{part}: {exc.message.split(': ', 1)[-1]}") from None
    return intervals


async def _context(request: web.Request) -> dict[str, Any]:
    hours = hours_service(request)
    now = datetime.now(UTC)
    weeks = await hours.weeks()
    options = {o.queue: o for o in await hours.all_options()}
    queues = []
    for name in sorted(set(weeks) | set(options) | {AGENT_QUEUE}):
        calendar = await hours.calendar(name, now)
        rows = weeks.get(name, [])
        intervals = [Interval(r.weekday, r.opens_minute, r.closes_minute) for r in rows]
        queues.append(
            {
                "name": name,
                "always_open": calendar.always_open,
                "open_now": calendar.is_open(now),
                "next_opening": calendar.next_opening(now),
                "week": week_text(intervals),
                "options": options.get(name, ClosedOptions(name)),
            }
        )
    requests = await hours.requests(limit=100)
    return {
        "queues": queues,
        "weekdays": WEEKDAYS,
        "holidays": await hours.holidays(),
        "requests": requests,
        "patient_names": await _patient_names(hours, [r.patient_id for r in requests]),
        "digits": EMERGENCY_DIGITS,
        "today": hours.today().isoformat(),
    }


async def _patient_names(
    hours: OpeningHoursService, patient_ids: list[int | None]
) -> dict[int, str]:
    wanted = {pid for pid in patient_ids if pid is not None}
    if not wanted:
        return {}
    async with hours.database.session() as session:
        rows = await session.scalars(select(Patient).where(Patient.id.in_(wanted)))
        return {row.id: row.full_name for row in rows}


async def _page(
    request: web.Request,
    *,
    notice: str | None = None,
    errors: dict[str, str] | None = None,
    kept: dict[str, Any] | None = None,
    status: int = 200,
) -> web.Response:
    context = await _context(request) | {
        "notice": notice,
        "errors": errors or {},
        "kept": kept or {},
    }
    return render(request, "admin_hours.html", context, status=status)


def _refused(exc: ValidationFailed, what: str, form: str, kept: dict[str, Any]) -> dict[str, Any]:
    detail = exc.message.removeprefix(f"{exc.field}: ")
    label = exc.field.replace("_", " ").capitalize()
    return {
        "notice": f"{what} not saved: {label}: {detail}",
        "errors": {f"{form}.{exc.field}": detail},
        "kept": {form: kept},
        "status": exc.http_status,
    }


@routes.get(PAGE)
@allow(SUPERVISORS)
async def hours_page(request: web.Request) -> web.Response:
    return await _page(request)


@routes.post(f"{PAGE}/week")
@allow(SUPERVISORS)
async def save_week(request: web.Request) -> web.Response:
    form = {k: str(v) for k, v in (await request.post()).items()}
    queue = form.get("queue", "").strip()
    try:
        queue = parse_queue(queue)
        rows = await hours_service(request).replace_week(
            queue, parse_week(form), actor_for(request)
        )
    except ValidationFailed as exc:
        return await _page(
            request, **_refused(exc, f"Hours of {queue or 'the queue'}", "week", form)
        )
    what = "always open" if not rows else f"{len(rows)} opening intervals a week"
    return await _page(request, notice=f"Hours of {queue} saved: {what}.")


@routes.post(f"{PAGE}/options")
@allow(SUPERVISORS)
async def save_options(request: web.Request) -> web.Response:
    form = await request.post()
    kept = {k: str(v) for k, v in form.items()}
    queue = kept.get("queue", "")
    options = ClosedOptions(
        queue,
        kept.get("emergency_digit") or None,
        kept.get("emergency_number", "").strip() or None,
        voicemail="voicemail" in form,
        callback="callback" in form,
        closed_messages={
            language: kept.get(f"closed_message_{language}", "") for language in MESSAGE_LANGUAGES
        },
    )
    try:
        await hours_service(request).set_options(options, actor_for(request))
    except ValidationFailed as exc:
        return await _page(request, **_refused(exc, "Closed options", "options", kept))
    return await _page(request, notice=f"What {queue} offers when closed is saved.")


@routes.post(f"{PAGE}/holidays")
@allow(SUPERVISORS)
async def add_holiday(request: web.Request) -> web.Response:
    kept = {k: str(v) for k, v in (await request.post()).items()}
    try:
        try:
            day = date.fromisoformat(kept.get("day", ""))
        except ValueError:
            raise ValidationFailed("day", "a date like 2026-12-25") from None
        row = await hours_service(request).add_holiday(
            day, kept.get("name", ""), actor_for(request), queue=kept.get("queue") or None
        )
    except ValidationFailed as exc:
        return await _page(request, **_refused(exc, "Holiday", "holiday", kept))
    return await _page(request, notice=f"Holiday added: {row.name} on {row.day.isoformat()}.")


@routes.post(f"{PAGE}/holidays/{{holiday_id}}/delete")
@allow(SUPERVISORS)
async def remove_holiday(request: web.Request) -> web.Response:
    holiday_id = id_from(request.match_info["holiday_id"], "holiday_id")
    await hours_service(request).remove_holiday(holiday_id, actor_for(request))
    return await _page(request, notice="Holiday removed.")


@routes.get(f"{PAGE}/requests/{{request_id}}/audio")
@allow(SUPERVISORS)
async def voicemail_audio(request: web.Request) -> web.StreamResponse:
    """A voicemail's sound: the sealed copy decrypted as it streams, or the WAV Asterisk wrote
    (found in our view of the recordings directory) until the processor has sealed it."""
    request_id = id_from(request.match_info["request_id"], "request_id")
    hours = hours_service(request)
    row = await hours.request(request_id)
    settings = request.app[SETTINGS]
    found = voicemail_file(row.recording_path, settings.asterisk)
    if found is None or not await asyncio.to_thread(found.path.is_file):
        raise web.HTTPNotFound(text="no recording for this request")
    cipher = RecordingCipher.from_setting(settings.recording.key.get_secret_value())
    if found.sealed and cipher is None:
        raise web.HTTPNotFound(text="the recording key is not configured")
    await record_audit(
        hours.database,
        actor_for(request),
        AuditAction.PLAY,
        "after_hours_request",
        request_id,
        patient_id=row.patient_id,
    )
    if found.sealed and cipher is not None:
        return await _stream_sealed(request, found, cipher)
    return web.FileResponse(found.path, headers={"Content-Type": "audio/wav"})


async def _stream_sealed(
    request: web.Request, found: VoicemailFile, cipher: RecordingCipher
) -> web.StreamResponse:
    """Decrypted chunk by chunk off the loop (byte ranges served); nothing plain on disk."""
    size = await asyncio.to_thread(cipher.plaintext_size, found.path)
    wanted = byte_range(request.headers.get("Range"), size)
    start, end = wanted or (0, size)
    response = web.StreamResponse(status=206 if wanted else 200)
    response.content_type = "audio/wav"
    response.content_length = end - start
    response.headers["Accept-Ranges"] = "bytes"
    response.headers["Cache-Control"] = "no-store"
    if wanted:
        response.headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    await response.prepare(request)
    chunks = cipher.decrypt_range(found.path, start, end)
    while (chunk := await asyncio.to_thread(next, chunks, None)) is not None:
        await response.write(chunk)
    await response.write_eof()
    return response
