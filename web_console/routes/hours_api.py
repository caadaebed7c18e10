"""Opening hours, holidays and after-hours requests over /api/v1: supervisors and admins.

Every change is one transaction with its audit row (:mod:`hcrm_core.services.opening_hours`);
a refusal is a 422 naming the field. Times of day are the hospital's (``timezone`` in each
answer); moments (``next_opening``, ``created_at``) are ISO 8601 in UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from hcrm_core.errors import ValidationFailed
from hcrm_core.models import AfterHoursRequest, Holiday, OpeningInterval
from hcrm_core.services.opening_calendar import Interval
from hcrm_core.services.opening_hours import (
    ClosedOptions,
    OpeningHoursService,
    interval_detail,
    make_interval,
    parse_queue,
)
from web_console.access import SUPERVISORS, actor_for, allow
from web_console.json_body import Body, read_body
from web_console.keys import DATABASE, SETTINGS
from web_console.views import id_from, int_param, only_params

routes = web.RouteTableDef()
HOURS = "/api/v1/opening-hours"
HOLIDAYS = "/api/v1/holidays"
REQUESTS = "/api/v1/after-hours-requests"
MAX_INTERVALS = 7 * 12


def hours_service(request: web.Request) -> OpeningHoursService:
    return OpeningHoursService(request.app[DATABASE], request.app[SETTINGS].tz)


def options_json(options: ClosedOptions) -> dict[str, Any]:
    return {
        "emergency_digit": options.emergency_digit,
        "emergency_number": options.emergency_number,
        "voicemail": options.voicemail,
        "callback": options.callback,
        "closed_messages": dict(options.closed_messages),
    }


def holiday_json(row: Holiday) -> dict[str, Any]:
    return {"id": row.id, "day": row.day.isoformat(), "name": row.name, "queue": row.queue}


def request_json(row: AfterHoursRequest) -> dict[str, Any]:
    return {
        "id": row.id,
        "kind": row.kind.value,
        "queue": row.queue,
        "caller_number": row.caller_number,
        "patient_id": row.patient_id,
        "has_recording": row.recording_path is not None,
        "status": row.status.value,
        "task_id": row.task_id,
        "created_at": row.created_at.isoformat(),
    }


async def queue_json(
    hours: OpeningHoursService, queue: str, rows: list[OpeningInterval]
) -> dict[str, Any]:
    now = datetime.now(UTC)
    calendar = await hours.calendar(queue, now)
    opening = calendar.next_opening(now)
    return {
        "queue": queue,
        "always_open": calendar.always_open,
        "open_now": calendar.is_open(now),
        "next_opening": opening.isoformat() if opening else None,
        "intervals": [
            {k: v for k, v in interval_detail(row).items() if k != "queue"} for row in rows
        ],
        "closed_options": options_json(await hours.options(queue)),
    }


class HoursBody(Body):
    """A JSON body with the list of a week's intervals."""

    def intervals(self) -> list[Interval]:
        return _intervals(self._get("intervals"))

    def messages(self) -> dict[str, str]:
        value = self._get("closed_messages")
        if value is None:
            return {}
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise ValidationFailed("closed_messages", 'an object like {"en": "...", "zh": "..."}')
        return value


def _intervals(value: Any) -> list[Interval]:
    if not isinstance(value, list) or len(value) > MAX_INTERVALS:
        raise ValidationFailed("intervals", f"a list of at most {MAX_INTERVALS} intervals")
    result = []
    for index, item in enumerate(value):
        if not isinstance(item, dict) or set(item) != {"weekday", "opens", "closes"}:
            raise ValidationFailed(f"intervals[{index}]", "an object: weekday, opens, closes")
        result.append(make_interval(item["weekday"], item["opens"], item["closes"], index))
    return result


@routes.get(HOURS)
@allow(SUPERVISORS)
async def list_hours(request: web.Request) -> web.Response:
    only_params(request, set())
    hours = hours_service(request)
    weeks = await hours.weeks()
    names = sorted(set(weeks) | {o.queue for o in await hours.all_options()})
    queues = [await queue_json(hours, name, weeks.get(name, [])) for name in names]
    return web.json_response(
        {"timezone": request.app[SETTINGS].hospital.timezone, "queues": queues}
    )


@routes.get(f"{HOURS}/{{queue}}")
@allow(SUPERVISORS)
async def get_hours(request: web.Request) -> web.Response:
    only_params(request, set())
    queue = parse_queue(request.match_info["queue"])
    hours = hours_service(request)
    return web.json_response(await queue_json(hours, queue, await hours.week(queue)))


@routes.put(f"{HOURS}/{{queue}}")
@allow(SUPERVISORS)
async def put_hours(request: web.Request) -> web.Response:
    queue = parse_queue(request.match_info["queue"])
    body = HoursBody((await read_body(request))._values)
    intervals = body.intervals()
    body.done()
    hours = hours_service(request)
    rows = await hours.replace_week(queue, intervals, actor_for(request))
    return web.json_response(await queue_json(hours, queue, rows))


@routes.put(f"{HOURS}/{{queue}}/closed-options")
@allow(SUPERVISORS)
async def put_options(request: web.Request) -> web.Response:
    queue = parse_queue(request.match_info["queue"])
    body = HoursBody((await read_body(request))._values)
    options = ClosedOptions(
        queue,
        body.text("emergency_digit", max_length=1),
        body.text("emergency_number", max_length=32),
        voicemail=body.boolean("voicemail") is not False,
        callback=body.boolean("callback") is not False,
        closed_messages=body.messages(),
    )
    body.done()
    kept = await hours_service(request).set_options(options, actor_for(request))
    return web.json_response({"queue": queue, **options_json(kept)})


@routes.get(HOLIDAYS)
@allow(SUPERVISORS)
async def list_holidays(request: web.Request) -> web.Response:
    only_params(request, {"include_past"})
    past = request.query.get("include_past", "false")
    if past not in ("true", "false"):
        raise ValidationFailed("include_past", "true or false")
    rows = await hours_service(request).holidays(include_past=past == "true")
    return web.json_response({"holidays": [holiday_json(row) for row in rows]})


@routes.post(HOLIDAYS)
@allow(SUPERVISORS)
async def add_holiday(request: web.Request) -> web.Response:
    body = await read_body(request)
    day = body.day("day", required=True)
    name = body.required_text("name", max_length=120)
    queue = body.text("queue", max_length=64)
    body.done()
    assert day is not None
    row = await hours_service(request).add_holiday(day, name, actor_for(request), queue=queue)
    return web.json_response(holiday_json(row), status=201)


@routes.delete(f"{HOLIDAYS}/{{holiday_id}}")
@allow(SUPERVISORS)
async def remove_holiday(request: web.Request) -> web.Response:
    holiday_id = id_from(request.match_info["holiday_id"], "holiday_id")
    await hours_service(request).remove_holiday(holiday_id, actor_for(request))
    return web.Response(status=204)


@routes.get(REQUESTS)
@allow(SUPERVISORS)
async def list_requests(request: web.Request) -> web.Response:
    only_params(request, {"limit"})
    limit = int_param(request.query.get("limit"), "limit", default=100, low=1, high=500)
    rows = await hours_service(request).requests(limit=limit)
    return web.json_response({"requests": [request_json(row) for row in rows]})
