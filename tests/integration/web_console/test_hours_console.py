"""Opening hours from the console: API and page, roles, CSRF, refusals naming the field, audit,
voicemail playback and the OpenAPI document."""

from __future__ import annotations

import dataclasses
import wave
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from hcrm_core.models import AfterHoursKind, AuditAction, AuditEvent
from hcrm_core.services.opening_hours import OpeningHoursService
from tests.support.console import ConsoleWorld, csrf_from, login
from web_console.app import create_app
from web_console.keys import CSRF_FIELD

QUEUE = "hours-test"
WEEK = [
    {"weekday": day, "opens": "08:00", "closes": "18:00"}
    for day in ("monday", "tuesday", "wednesday", "thursday", "friday")
]


async def _client(
    world: ConsoleWorld, aiohttp_client: Any, user: str, recordings: Path | None = None
) -> tuple[Any, str]:
    deps = world.server.console_deps()
    if recordings is not None:
        asterisk = deps.settings.asterisk.model_copy(update={"recordings_local_path": recordings})
        deps = dataclasses.replace(
            deps, settings=deps.settings.model_copy(update={"asterisk": asterisk})
        )
    client = await aiohttp_client(create_app(deps))
    assert (await login(client, user)).status == 302
    return client, csrf_from(await (await client.get("/")).text())


async def _call(client: Any, token: str, method: str, path: str, body: Any = None) -> Any:
    response = await client.request(method, path, json=body, headers={"X-CSRF-Token": token})
    return response.status, (await response.json() if response.status != 204 else None)


async def _audits(world: ConsoleWorld, entity: str) -> list[AuditEvent]:
    async with world.server.database.session() as session:
        rows = await session.scalars(
            select(AuditEvent).where(AuditEvent.entity == entity).order_by(AuditEvent.id)
        )
        return list(rows)


async def test_agents_may_not_and_writes_need_the_csrf_token(
    world: ConsoleWorld, aiohttp_client: Any
) -> None:
    alice, _ = await _client(world, aiohttp_client, "alice")
    for path in ("/admin/hours", "/api/v1/opening-hours", "/api/v1/holidays"):
        assert (await alice.get(path)).status == 403, path
    assert (await alice.get("/api/v1/after-hours-requests")).status == 403
    sam, _ = await _client(world, aiohttp_client, "sam")
    answer = await sam.put(f"/api/v1/opening-hours/{QUEUE}", json={"intervals": WEEK})
    assert answer.status == 403  # no CSRF token
    page = await (await sam.get("/admin/hours")).text()
    assert 'href="/admin/hours"' in page and 'id="hours"' in page
    assert "Always open: no hours set" in page  # appointments: today's behaviour


async def test_a_supervisor_keeps_the_week_and_the_closed_options(
    world: ConsoleWorld, aiohttp_client: Any
) -> None:
    sam, token = await _client(world, aiohttp_client, "sam")
    path = f"/api/v1/opening-hours/{QUEUE}"
    status, kept = await _call(sam, token, "PUT", path, {"intervals": WEEK})
    assert status == 200, kept
    assert [i["weekday"] for i in kept["intervals"]][:2] == ["monday", "tuesday"]
    assert kept["always_open"] is False and kept["intervals"][0]["opens"] == "08:00"
    overlapping = [*WEEK, {"weekday": "mon", "opens": "17:00", "closes": "19:00"}]
    for body, field in [
        ({"intervals": overlapping}, "intervals"),
        (
            {"intervals": [{"weekday": "funday", "opens": "08:00", "closes": "09:00"}]},
            "intervals[0].weekday",
        ),
        (
            {"intervals": [{"weekday": 0, "opens": "18:00", "closes": "08:00"}]},
            "intervals[0].closes",
        ),
        ({"intervals": "always"}, "intervals"),
        ({"intervals": [], "extra": 1}, "extra"),
    ]:
        status, error = await _call(sam, token, "PUT", path, body)
        assert (status, error["field"]) == (422, field), error
    status, again = await _call(sam, token, "GET", path)
    assert status == 200 and len(again["intervals"]) == 5  # nothing half-written
    status, error = await _call(
        sam, token, "PUT", f"{path}/closed-options", {"emergency_digit": "9"}
    )
    assert (status, error["field"]) == (422, "emergency_number")
    status, options = await _call(
        sam,
        token,
        "PUT",
        f"{path}/closed-options",
        {
            "emergency_digit": "9",
            "emergency_number": "+12125550111",
            "callback": False,
            "closed_messages": {"en": "Closed for training."},
        },
    )
    assert status == 200 and options["callback"] is False and options["voicemail"] is True
    assert options["closed_messages"] == {"en": "Closed for training."}
    status, error = await _call(
        sam, token, "PUT", f"{path}/closed-options", {"closed_messages": {"en": 3}}
    )
    assert (status, error["field"]) == (422, "closed_messages")
    status, listed = await _call(sam, token, "GET", "/api/v1/opening-hours")
    (ours,) = [q for q in listed["queues"] if q["queue"] == QUEUE]
    assert listed["timezone"] == "America/New_York"
    assert ours["closed_options"]["emergency_number"] == "+12125550111"
    assert [a.actor for a in await _audits(world, "opening_hours")][-1] == "user:sam"
    assert len(await _audits(world, "after_hours_options")) == 1


async def test_holidays_are_added_refused_in_the_past_and_removed(
    world: ConsoleWorld, aiohttp_client: Any
) -> None:
    sam, token = await _client(world, aiohttp_client, "sam")
    yesterday = (date.today() - timedelta(days=2)).isoformat()
    status, error = await _call(
        sam, token, "POST", "/api/v1/holidays", {"day": yesterday, "name": "Past"}
    )
    assert (status, error["field"]) == (422, "day")
    day = (date.today() + timedelta(days=30)).isoformat()
    status, holiday = await _call(
        sam, token, "POST", "/api/v1/holidays", {"day": day, "name": "Founders' day"}
    )
    assert status == 201 and holiday["queue"] is None
    status, listed = await _call(sam, token, "GET", "/api/v1/holidays")
    assert holiday in listed["holidays"]
    page = await (await sam.get("/admin/hours")).text()
    assert "Founders&#39; day" in page and f'data-holiday="{holiday["id"]}"' in page
    status, _ = await _call(sam, token, "DELETE", f"/api/v1/holidays/{holiday['id']}")
    assert status == 204
    status, error = await _call(sam, token, "DELETE", f"/api/v1/holidays/{holiday['id']}")
    assert status == 404
    assert [a.action for a in await _audits(world, "holiday")] == [
        AuditAction.CREATE,
        AuditAction.DELETE,
    ]


async def test_the_page_saves_a_week_and_a_holiday_and_names_what_is_wrong(
    world: ConsoleWorld, aiohttp_client: Any
) -> None:
    ada, token = await _client(world, aiohttp_client, "ada")
    form = {CSRF_FIELD: token, "queue": "page-queue", "monday": "08:00-12:00, 13:00-18:00"}
    refused = await ada.post("/admin/hours/week", data={**form, "tuesday": "9 to 5"})
    text = await refused.text()
    assert refused.status == 422 and "write hours as 08:00-18:00" in text
    assert 'value="9 to 5"' in text  # kept for correction
    saved = await ada.post("/admin/hours/week", data={**form, "friday": "09:00-17:00"})
    text = await saved.text()
    assert saved.status == 200 and "Hours of page-queue saved: 3 opening intervals" in text
    assert 'data-queue="page-queue"' in text and "08:00–12:00<br>13:00–18:00" in text
    past = await ada.post(
        "/admin/hours/holidays", data={CSRF_FIELD: token, "day": "2001-01-01", "name": "Old"}
    )
    assert past.status == 422 and "already past" in await past.text()
    options = await ada.post(
        "/admin/hours/options",
        data={CSRF_FIELD: token, "queue": "page-queue", "emergency_digit": "8"},
    )
    assert options.status == 422 and "set both the emergency key and number" in await options.text()


async def test_after_hours_requests_are_listed_and_a_voicemail_plays(
    world: ConsoleWorld, aiohttp_client: Any, tmp_path: Path
) -> None:
    settings = world.server.settings
    hours = OpeningHoursService(world.server.database, settings.tz)
    name = "after-hours-1700000000-abc123def456.wav"
    with wave.open(str(tmp_path / name), "wb") as sound:
        sound.setnchannels(1)
        sound.setsampwidth(2)
        sound.setframerate(8000)
        sound.writeframes(b"\0\0" * 800)
    voicemail = await hours.record_request(
        AfterHoursKind.VOICEMAIL,
        "appointments",
        caller_number="+12125550142",
        patient_id=world.grace.id,
        recording_path=f"{settings.asterisk.recordings_asterisk_path}/{name}",
    )
    await hours.record_request(
        AfterHoursKind.CALLBACK, "appointments", caller_number="", patient_id=None
    )
    sam, token = await _client(world, aiohttp_client, "sam", recordings=tmp_path)
    status, listed = await _call(sam, token, "GET", "/api/v1/after-hours-requests")
    assert status == 200
    assert [r["kind"] for r in listed["requests"]][:2] == ["callback", "voicemail"]
    assert listed["requests"][1]["task_id"] is not None
    page = await (await sam.get("/admin/hours")).text()
    assert f'src="/admin/hours/requests/{voicemail.id}/audio"' in page and "Withheld" in page
    audio = await sam.get(f"/admin/hours/requests/{voicemail.id}/audio")
    assert audio.status == 200 and audio.headers["Content-Type"] == "audio/wav"
    assert [a.action for a in await _audits(world, "after_hours_request")][-1] is AuditAction.PLAY
    callback_id = listed["requests"][0]["id"]
    assert (await sam.get(f"/admin/hours/requests/{callback_id}/audio")).status == 404


async def test_the_openapi_document_names_the_hours_paths(
    world: ConsoleWorld, aiohttp_client: Any
) -> None:
    sam, token = await _client(world, aiohttp_client, "sam")
    status, document = await _call(sam, token, "GET", "/api/v1/openapi.json")
    assert status == 200
    assert {
        "/api/v1/opening-hours",
        "/api/v1/opening-hours/{queue}",
        "/api/v1/opening-hours/{queue}/closed-options",
        "/api/v1/holidays",
        "/api/v1/holidays/{holiday_id}",
        "/api/v1/after-hours-requests",
    } <= set(document["paths"])
    assert {"QueueHours", "Holiday", "AfterHoursRequest"} <= set(document["components"]["schemas"])
