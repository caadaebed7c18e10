"""Doctors, departments and their weeks from the console: API and pages, roles, CSRF, refusals
naming the field, audit, and the booked appointments a change hits."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from hcrm_core.db import Database
from hcrm_core.models import Appointment, AuditEvent
from tests.support.console import ConsoleWorld, csrf_from, login, start_console_world
from web_console.app import create_app


async def _client(world: ConsoleWorld, aiohttp_client: Any, user: str) -> Any:
    client = await aiohttp_client(create_app(world.server.console_deps()))
    assert (await login(client, user)).status == 302
    return client


async def _token(client: Any) -> str:
    return csrf_from(await (await client.get("/admin/doctors")).text())


class Api:
    """JSON calls with the session's CSRF token."""

    def __init__(self, client: Any, token: str) -> None:
        self.client, self.token = client, token

    async def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        response = await self.client.request(
            method, path, json=body, headers={"X-CSRF-Token": self.token}
        )
        return response.status, await response.json()


@pytest.fixture
async def admin(world: ConsoleWorld, aiohttp_client: Any) -> Api:
    client = await _client(world, aiohttp_client, "ada")
    return Api(client, await _token(client))


@pytest.fixture
async def supervisor(world: ConsoleWorld, aiohttp_client: Any) -> Api:
    client = await _client(world, aiohttp_client, "sam")
    return Api(client, await _token(client))


def _local_today(world: ConsoleWorld) -> Any:
    return datetime.now(world.server.settings.tz).date()


async def _new_doctor(admin: Api, family_name: str) -> dict[str, Any]:
    status, departments = await admin.call("GET", "/api/v1/departments")
    assert status == 200
    status, doctor = await admin.call(
        "POST",
        "/api/v1/doctors",
        {
            "department_id": departments["departments"][0]["id"],
            "given_name": "Noor",
            "family_name": family_name,
            "specialty": "Echocardiography",
        },
    )
    assert status == 201, doctor
    return doctor


async def test_roles_and_csrf(world: ConsoleWorld, aiohttp_client: Any, supervisor: Api) -> None:
    agent = await _client(world, aiohttp_client, "alice")
    for path in ("/admin/doctors", "/admin/departments", "/api/v1/doctors"):
        assert (await agent.get(path)).status == 403, path
    anonymous = await aiohttp_client(create_app(world.server.console_deps()))
    answer = await anonymous.get("/api/v1/doctors")
    assert answer.status == 401 and (await answer.json())["error"] == "unauthenticated"
    status, _ = await supervisor.call("GET", "/api/v1/doctors?active=all")
    assert status == 200
    doctor_id = (await supervisor.call("GET", "/api/v1/doctors"))[1]["doctors"][0]["id"]
    for method, path, body in (
        ("POST", "/api/v1/doctors", {"department_id": 1}),
        ("POST", "/api/v1/departments", {"code": "X", "name": "X"}),
        ("PATCH", f"/api/v1/doctors/{doctor_id}", {"title": "Prof."}),
        ("POST", f"/api/v1/doctors/{doctor_id}/deactivate", None),
        ("POST", f"/api/v1/doctors/{doctor_id}/templates", {"weekday": 5}),
    ):
        status, refused = await supervisor.call(method, path, body)
        assert (status, refused["error"]) == (403, "forbidden"), path
    # A write without the token is refused before anything else.
    bare = await supervisor.client.post(
        f"/api/v1/doctors/{doctor_id}/exceptions", json={"kind": "leave"}
    )
    assert bare.status == 403 and "CSRF" in (await bare.json())["message"]
    form = await supervisor.client.post(
        f"/admin/doctors/{doctor_id}/exceptions", data={"kind": "leave"}
    )
    assert form.status == 403


async def test_api_keeps_a_doctor_s_week_naming_bad_fields(
    world: ConsoleWorld, admin: Api, supervisor: Api
) -> None:
    doctor = await _new_doctor(admin, "Apitest")
    base = f"/api/v1/doctors/{doctor['id']}"
    session = {"weekday": 5, "start_time": "08:00", "end_time": "11:00", "slot_minutes": 20}
    status, template = await admin.call("POST", f"{base}/templates", session)
    assert status == 201 and template["affected_appointments"] == []
    assert template["start_time"] == "08:00" and template["location"] is None
    refusals = [
        ({**session, "slot_minutes": 25}, "slot_minutes", "does not divide"),
        ({**session, "start_time": "10:00", "end_time": "12:00"}, "start_time", "overlaps"),
        ({**session, "end_time": "07:00"}, "end_time", "after the start"),
        ({**session, "start_time": "8am"}, "start_time", "like 09:30"),
        ({**session, "weekday": "monday"}, "weekday", "whole number"),
        ({**session, "slots": 3}, "slots", "unknown field"),
        ({k: v for k, v in session.items() if k != "weekday"}, "weekday", "required"),
    ]
    for body, field, message in refusals:
        status, refused = await admin.call("POST", f"{base}/templates", body)
        assert (status, refused["field"]) == (422, field), (body, refused)
        assert message in refused["message"]
    raw = await admin.client.post(
        f"{base}/templates",
        data=b"{not json",
        headers={"X-CSRF-Token": admin.token, "Content-Type": "application/json"},
    )
    assert raw.status == 400 and (await raw.json())["field"] == "body"
    status, edited = await admin.call(
        "PATCH", f"{base}/templates/{template['id']}", {"location": "Annex 2"}
    )
    assert status == 200 and (edited["location"], edited["slot_minutes"]) == ("Annex 2", 20)
    status, read = await supervisor.call("GET", base)
    assert status == 200 and [t["id"] for t in read["templates"]] == [template["id"]]
    assert read["department"]["code"]
    status, missing = await admin.call("DELETE", f"{base}/templates/999999")
    assert status == 404 and missing["error"] == "template_not_found"
    status, missing = await admin.call("GET", "/api/v1/doctors/999999")
    assert status == 404
    status, bad_id = await admin.call("GET", "/api/v1/doctors/abc")
    assert (status, bad_id["field"]) == (422, "doctor_id")
    status, _ = await admin.call("DELETE", f"{base}/templates/{template['id']}")
    assert status == 200
    # Exceptions: a supervisor's to keep.
    today = _local_today(world)
    leave = {"kind": "leave", "starts_on": str(today + timedelta(days=3))}
    status, refused = await supervisor.call(
        "POST", f"{base}/exceptions", {**leave, "ends_on": str(today + timedelta(days=2))}
    )
    assert (status, refused["field"]) == (422, "ends_on")
    status, refused = await supervisor.call("POST", f"{base}/exceptions", {**leave, "kind": "nap"})
    assert (status, refused["field"]) == (422, "kind")
    status, added = await supervisor.call("POST", f"{base}/exceptions", leave)
    assert status == 201 and added["kind"] == "leave"
    status, listed = await supervisor.call("GET", f"{base}/exceptions")
    assert [e["id"] for e in listed["exceptions"]] == [added["id"]]
    status, _ = await supervisor.call("DELETE", f"{base}/exceptions/{added['id']}")
    assert status == 200
    async with world.server.database.session() as db:
        audited = (
            await db.execute(
                select(AuditEvent.entity, AuditEvent.action, AuditEvent.actor)
                .where(AuditEvent.entity.in_(["doctor", "schedule_template", "schedule_exception"]))
                .order_by(AuditEvent.id)
            )
        ).all()
    assert [(e, a.value, who) for e, a, who in audited][-6:] == [
        ("doctor", "create", "user:ada"),
        ("schedule_template", "create", "user:ada"),
        ("schedule_template", "update", "user:ada"),
        ("schedule_template", "delete", "user:ada"),
        ("schedule_exception", "create", "user:sam"),
        ("schedule_exception", "delete", "user:sam"),
    ]


async def test_leave_over_a_booking_names_the_appointment(
    world: ConsoleWorld, supervisor: Api
) -> None:
    async with world.server.database.session() as db:
        booked = await db.scalar(
            select(Appointment).where(Appointment.patient_id == world.grace.id)
        )
    assert booked is not None
    day = booked.starts_at.astimezone(world.server.settings.tz).date()
    path = f"/api/v1/doctors/{booked.doctor_id}/exceptions"
    status, leave = await supervisor.call(
        "POST", path, {"kind": "sick", "starts_on": str(day), "reason": "flu"}
    )
    assert status == 201
    assert leave["affected_appointments"] == [booked.id]
    assert leave["conflicts_page"] == "/admin/schedule-conflicts"
    status, removed = await supervisor.call("DELETE", f"{path}/{leave['id']}")
    assert status == 200 and removed["affected_appointments"] == []


async def test_pages_keep_the_input_and_show_the_refusal_at_the_field(
    world: ConsoleWorld, admin: Api, supervisor: Api
) -> None:
    page = await (await admin.client.get("/admin/doctors")).text()
    assert 'href="/admin/doctors"' in page and "Cardiology" in page and "New doctor" in page
    _, departments = await admin.call("GET", "/api/v1/departments")
    department_id = departments["departments"][0]["id"]
    form = {
        "csrf_token": admin.token,
        "department_id": str(department_id),
        "title": "Dr.",
        "given_name": "Kept <i>Name</i>",
        "family_name": "",
        "specialty": "Sports medicine",
    }
    refused = await admin.client.post("/admin/doctors", data=form, allow_redirects=False)
    text = await refused.text()
    assert refused.status == 422
    assert 'id="doctor-family_name-error"' in text and "is required" in text
    assert 'value="Kept &lt;i&gt;Name&lt;/i&gt;"' in text and 'value="Sports medicine"' in text
    created = await admin.client.post(
        "/admin/doctors", data={**form, "family_name": "Formtest"}, allow_redirects=False
    )
    assert created.status == 303
    location = created.headers["Location"]
    doctor_path = location.split("?")[0]
    session = {
        "csrf_token": admin.token,
        "weekday": "2",
        "start_time": "13:00",
        "end_time": "16:00",
        "slot_minutes": "25",
        "location": "Room 7",
        "valid_from": "",
        "valid_until": "",
    }
    refused = await admin.client.post(f"{doctor_path}/templates", data=session)
    text = await refused.text()
    assert refused.status == 422
    error = re.search(r'id="template-slot_minutes-error"[^>]*>([^<]+)<', text)
    assert error and "25 minutes does not divide" in error.group(1)
    assert 'value="25"' in text and 'value="Room 7"' in text and 'value="13:00"' in text
    saved = await admin.client.post(
        f"{doctor_path}/templates", data={**session, "slot_minutes": "30"}, allow_redirects=False
    )
    assert saved.status == 303 and "saved=template-added" in saved.headers["Location"]
    page = await (await admin.client.get(saved.headers["Location"])).text()
    assert "Weekly session added" in page and "13:00–16:00" in page and "6 slots of 30 min" in page
    session_id = re.search(r'id="session-(\d+)"', page)
    assert session_id is not None
    editing = await (
        await admin.client.get(f"{doctor_path}?edit_template={session_id.group(1)}")
    ).text()
    assert f'action="{doctor_path}/templates/{session_id.group(1)}"' in editing
    assert "Edit the Wednesday 13:00–16:00 session" in editing and 'value="Room 7"' in editing
    moved = await admin.client.post(
        f"{doctor_path}/templates/{session_id.group(1)}",
        data={**session, "slot_minutes": "30", "start_time": "14:00"},
        allow_redirects=False,
    )
    assert moved.status == 303 and "saved=template-saved" in moved.headers["Location"]
    # A supervisor reads the week and keeps leave, but has no form to change the week.
    page = await (await supervisor.client.get(doctor_path)).text()
    assert "14:00–16:00" in page and 'id="exception-form"' in page
    assert 'id="template-form"' not in page and 'id="doctor-form"' not in page
    refused = await supervisor.client.post(
        f"{doctor_path}/templates", data={**session, "csrf_token": supervisor.token}
    )
    assert refused.status == 403


async def test_leave_from_the_page_points_to_the_conflicts(
    world: ConsoleWorld, supervisor: Api
) -> None:
    async with world.server.database.session() as db:
        booked = await db.scalar(
            select(Appointment).where(Appointment.patient_id == world.grace.id)
        )
    assert booked is not None
    day = booked.starts_at.astimezone(world.server.settings.tz).date()
    doctor_path = f"/admin/doctors/{booked.doctor_id}"
    form = {
        "csrf_token": supervisor.token,
        "kind": "leave",
        "starts_on": str(day),
        "ends_on": str(day - timedelta(days=1)),
        "start_time": "",
        "end_time": "",
        "slot_minutes": "",
        "location": "",
        "reason": "Congress",
    }
    refused = await supervisor.client.post(f"{doctor_path}/exceptions", data=form)
    text = await refused.text()
    assert refused.status == 422 and 'id="exception-ends_on-error"' in text
    assert "must not be before the first day" in text and 'value="Congress"' in text
    added = await supervisor.client.post(
        f"{doctor_path}/exceptions", data={**form, "ends_on": ""}, allow_redirects=False
    )
    assert added.status == 303 and f"affected={booked.id}" in added.headers["Location"]
    page = await (await supervisor.client.get(added.headers["Location"])).text()
    assert 'id="affected"' in page and 'href="/admin/schedule-conflicts"' in page
    leave_id = re.search(r'id="exception-(\d+)"', page)
    assert leave_id is not None
    removed = await supervisor.client.post(
        f"{doctor_path}/exceptions/{leave_id.group(1)}/delete",
        data={"csrf_token": supervisor.token},
        allow_redirects=False,
    )
    assert removed.status == 303 and "affected" not in removed.headers["Location"]


async def test_departments_page_refuses_a_taken_code_at_the_field(admin: Api) -> None:
    form = {
        "csrf_token": admin.token,
        "code": "card",
        "name": "Cardiac surgery",
        "names": "zh: 心外科",
        "synonyms": "bypass, valves",
        "menu_order": "7",
    }
    refused = await admin.client.post("/admin/departments", data=form)
    text = await refused.text()
    assert refused.status == 422 and 'id="department-code-error"' in text
    assert "already the code of Cardiology" in text and "心外科" in text
    created = await admin.client.post(
        "/admin/departments", data={**form, "code": "CSURG"}, allow_redirects=False
    )
    assert created.status == 303
    status, found = await admin.call("GET", "/api/v1/departments")
    new = next(d for d in found["departments"] if d["code"] == "CSURG")
    status, department = await admin.call("GET", f"/api/v1/departments/{new['id']}")
    assert department["names"] == {"zh": "心外科"}
    assert department["synonyms"] == ["bypass", "valves"]
    status, edited = await admin.call(
        "PATCH", f"/api/v1/departments/{new['id']}", {"menu_order": 8, "names": {"es": "Cirugía"}}
    )
    assert status == 200 and (edited["menu_order"], edited["names"]) == (8, {"es": "Cirugía"})
    status, off = await admin.call("POST", f"/api/v1/departments/{new['id']}/deactivate")
    assert status == 200 and off["active"] is False


def _documented_paths(path: str) -> list[str]:
    """``/x/{action:a|b}`` is documented as ``/x/a`` and ``/x/b``."""
    match = re.search(r"\{\w+:([^}]+)\}", path)
    if match is None:
        return [path]
    return [path.replace(match.group(0), choice) for choice in match.group(1).split("|")]


async def test_every_doctors_api_route_is_in_the_openapi_document(admin: Api) -> None:
    from web_console.routes import doctors_api

    _, document = await admin.call("GET", "/api/v1/openapi.json")
    missing = [
        f"{route.method} {path}"
        for route in doctors_api.routes
        for path in _documented_paths(route.path)  # type: ignore[attr-defined]
        if route.method.lower() not in document["paths"].get(path, {})  # type: ignore[attr-defined]
    ]
    assert missing == []


async def test_a_week_kept_through_the_api_on_every_engine(
    database: Database, tmp_path: Path, aiohttp_client: Any
) -> None:
    """The same console against each engine the `database` fixture provides (SQLite, PostgreSQL)."""
    await database.dispose()
    world = await start_console_world(tmp_path / "data", database.url)
    try:
        client = await _client(world, aiohttp_client, "ada")
        admin = Api(client, await _token(client))
        doctor = await _new_doctor(admin, "Engines")
        base = f"/api/v1/doctors/{doctor['id']}"
        session = {"weekday": 6, "start_time": "10:00", "end_time": "12:00", "slot_minutes": 35}
        status, refused = await admin.call("POST", f"{base}/templates", session)
        assert (status, refused["field"]) == (422, "slot_minutes")
        status, added = await admin.call(
            "POST", f"{base}/templates", {**session, "slot_minutes": 30}
        )
        assert status == 201
        status, slots = await admin.call("GET", f"/api/v1/slots?doctor_id={doctor['id']}&limit=8")
        assert status == 200 and len(slots["slots"]) == 8  # two Sundays' worth already
        status, _ = await admin.call("DELETE", f"{base}/templates/{added['id']}")
        status, slots = await admin.call("GET", f"/api/v1/slots?doctor_id={doctor['id']}&limit=8")
        assert slots["slots"] == []
        async with world.server.database.session() as db:
            rows = (
                await db.execute(
                    select(AuditEvent.entity, AuditEvent.action).where(
                        AuditEvent.entity == "schedule_template"
                    )
                )
            ).all()
        assert [(e, a.value) for e, a in rows] == [
            ("schedule_template", "create"),
            ("schedule_template", "delete"),
        ]
    finally:
        await world.server.stop()
