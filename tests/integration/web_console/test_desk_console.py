"""The agent desk's pages, JSON API and websocket, on a real server (Asterisk absent here).

Roles, CSRF, field-naming 4xx answers and audit rows are checked through HTTP; what needs the
PBX (sign-in, pops) is in tests/integration/agents and the Chromium end-to-end test.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any

import aiohttp
from sqlalchemy import select

from hcrm_core.models import (
    Appointment,
    AppointmentStatus,
    AuditEvent,
    Call,
    CallDirection,
    Complaint,
    Patient,
)
from tests.support.console import ConsoleWorld, login
from web_console.app import create_app

_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


async def _logged_in(aiohttp_client: Any, world: ConsoleWorld, user: str) -> tuple[Any, str]:
    client = await aiohttp_client(create_app(world.server.console_deps()))
    assert (await login(client, user)).status == 302
    page = await client.get("/desk")
    assert page.status == 200
    match = _META.search(await page.text())
    assert match
    return client, match.group(1)


async def _department_slot(client: Any) -> tuple[int, int]:
    departments = await (await client.get("/api/v1/departments")).json()
    cardiology = next(d for d in departments["departments"] if d["name"] == "Cardiology")
    slots = await (
        await client.get(f"/api/v1/slots?department_id={cardiology['id']}&limit=50")
    ).json()
    return cardiology["id"], slots["slots"][-1]["slot_id"]


async def test_desk_page_and_api_for_agents_supervisor_pages_refused(world, aiohttp_client):
    client, _token = await _logged_in(aiohttp_client, world, "alice")
    desk = await (await client.get("/api/v1/desk")).json()
    assert desk["type"] == "desk" and desk["agent"] is None
    assert desk["queues"] == ["appointments", "enquiries"]
    assert "lunch" in desk["pause_reasons"] and "booked" in desk["dispositions"]
    for path in ("/supervisor", "/admin/users"):
        assert (await client.get(path)).status == 403
    denied = await client.get("/api/v1/users")
    assert denied.status == 403
    assert (await denied.json())["error"] == "forbidden"


async def test_without_login_the_desk_api_is_401_and_the_page_redirects(world, aiohttp_client):
    client = await aiohttp_client(create_app(world.server.console_deps()))
    assert (await client.get("/api/v1/desk")).status == 401
    page = await client.get("/desk", allow_redirects=False)
    assert page.status == 302 and page.headers["Location"].startswith("/login")
    assert (await client.post("/api/v1/appointments", json={})).status in (401, 403)


async def test_state_changes_without_the_csrf_token_are_refused(world, aiohttp_client):
    client, _token = await _logged_in(aiohttp_client, world, "alice")
    _department, slot_id = await _department_slot(client)
    body = {"patient_id": world.grace.id, "slot_id": slot_id}
    for headers in ({}, {"X-CSRF-Token": "forged"}):
        refused = await client.post("/api/v1/appointments", json=body, headers=headers)
        assert refused.status == 403
        assert "CSRF" in (await refused.json())["message"]
    async with world.server.database.session() as session:
        booked = await session.scalar(select(Appointment).where(Appointment.slot_id == slot_id))
    assert booked is None
    assert (await client.post("/api/v1/desk/pause", json={"reason": "lunch"})).status == 403


async def test_book_reschedule_and_cancel_through_the_api(world, aiohttp_client):
    client, token = await _logged_in(aiohttp_client, world, "alice")
    headers = {"X-CSRF-Token": token}
    departments = await (await client.get("/api/v1/departments")).json()
    derm = next(d for d in departments["departments"] if d["name"] == "Dermatology")
    slots = (await (await client.get(f"/api/v1/slots?department_id={derm['id']}&limit=40")).json())[
        "slots"
    ]
    booked = await client.post(
        "/api/v1/appointments",
        json={"patient_id": world.grace.id, "slot_id": slots[-1]["slot_id"], "reason": "rash"},
        headers=headers,
    )
    assert booked.status == 201, await booked.text()
    first = await booked.json()
    assert first["department"] == "Dermatology" and first["status"] == "booked"
    taken = await client.post(
        "/api/v1/appointments",
        json={"patient_id": world.script.id, "slot_id": slots[-1]["slot_id"]},
        headers=headers,
    )
    assert taken.status == 409 and (await taken.json())["error"] == "slot_taken"

    moved = await client.post(
        f"/api/v1/appointments/{first['id']}/reschedule",
        json={"slot_id": slots[-2]["slot_id"]},
        headers=headers,
    )
    assert moved.status == 201, await moved.text()
    second = await moved.json()
    assert second["rescheduled_from_id"] == first["id"]
    listed = await (await client.get(f"/api/v1/patients/{world.grace.id}/appointments")).json()
    assert second["id"] in [a["id"] for a in listed["appointments"]]
    assert first["id"] not in [a["id"] for a in listed["appointments"]]

    cancelled = await client.post(
        f"/api/v1/appointments/{second['id']}/cancel", json={"reason": "better"}, headers=headers
    )
    assert cancelled.status == 200 and (await cancelled.json())["status"] == "cancelled"
    async with world.server.database.session() as session:
        rows = {
            a.id: a
            for a in await session.scalars(
                select(Appointment).where(Appointment.id.in_([first["id"], second["id"]]))
            )
        }
        audit = (
            await session.scalars(
                select(AuditEvent).where(
                    AuditEvent.entity == "appointment",
                    AuditEvent.actor_user_id == world.agent_id,
                )
            )
        ).all()
    assert {a.status for a in rows.values()} == {AppointmentStatus.CANCELLED}
    assert {a.channel.value for a in rows.values()} == {"agent"}
    assert len(audit) >= 4  # booked, moved (cancel + book), cancelled


async def test_bad_fields_are_4xx_naming_the_field(world, aiohttp_client):
    client, token = await _logged_in(aiohttp_client, world, "alice")
    headers = {"X-CSRF-Token": token}
    cases: list[tuple[str, str, Any, str]] = [
        ("post", "/api/v1/appointments", {"patient_id": "x", "slot_id": 1}, "patient_id"),
        ("post", "/api/v1/appointments", {"patient_id": 1}, "slot_id"),
        ("post", "/api/v1/appointments", {"patient_id": 1, "slot_id": 1, "colour": 1}, "colour"),
        ("post", "/api/v1/appointments/abc/cancel", {}, "appointment_id"),
        ("post", "/api/v1/appointments", "[1, 2]", "body"),
        ("post", "/api/v1/appointments", "{not json", "body"),
        ("get", "/api/v1/slots?department_id=x", None, "department_id"),
        ("get", "/api/v1/slots", None, "department_id"),
        ("post", "/api/v1/desk/pause", {"reason": "nap"}, None),
        ("post", "/api/v1/desk/sign-in", {"extension": "12;34"}, "extension"),
        ("post", "/api/v1/desk/sign-in", {"extension": 1001}, "extension"),
        ("post", "/api/v1/desk/dial", {"number": "call me maybe"}, None),
        (
            "post",
            "/api/v1/complaints",
            {"patient_id": world.grace.id, "category": "x", "description": "d"},
            "category",
        ),
        ("patch", f"/api/v1/patients/{world.grace.id}", {"email": "nope"}, "email"),
        (
            "patch",
            f"/api/v1/patients/{world.grace.id}",
            {"date_of_birth": "1961-13-01"},
            "date_of_birth",
        ),
        ("post", "/api/v1/patients", {"given_name": "New"}, "date_of_birth"),
        ("post", "/api/v1/calls/nope!/notes", {"note": "x"}, "linkedid"),
        ("post", "/api/v1/desk/pops/nothing/disposition", {"disposition": "booked"}, None),
    ]
    for method, path, body, field in cases:
        kwargs: dict[str, Any] = {"headers": headers}
        if isinstance(body, str):
            kwargs["data"] = body
            kwargs["headers"] = {**headers, "Content-Type": "application/json"}
        elif body is not None:
            kwargs["json"] = body
        response = await getattr(client, method)(path, **kwargs)
        answer = await response.json()
        assert 400 <= response.status < 500, (path, body, response.status, answer)
        if field is not None:
            assert answer["field"] == field, (path, body, answer)
    # The desk says why it cannot act: not signed in, or not her extension (alice has none).
    pause = await client.post("/api/v1/desk/pause", json={"reason": "lunch"}, headers=headers)
    assert (pause.status, (await pause.json())["error"]) == (409, "not_signed_in")
    sign_in = await client.post("/api/v1/desk/sign-in", json={"extension": "1001"}, headers=headers)
    refused = await sign_in.json()
    assert (sign_in.status, refused["error"], refused["field"]) == (
        403,
        "extension_not_assigned",
        "extension",
    )


async def test_notes_complaints_and_patient_edits_are_saved_and_audited(world, aiohttp_client):
    client, token = await _logged_in(aiohttp_client, world, "alice")
    headers = {"X-CSRF-Token": token}
    linkedid = f"cc-{uuid.uuid4().hex[:12]}"
    async with world.server.database.transaction() as session:
        session.add(
            Call(
                linkedid=linkedid,
                direction=CallDirection.INBOUND,
                started_at=datetime.now(UTC),
                patient_id=world.grace.id,
                agent_user_id=world.agent_id,  # alice took it: hers to read and annotate
                ivr_context={},
            )
        )
    noted = await client.post(
        f"/api/v1/calls/{linkedid}/notes", json={"note": "asked about parking"}, headers=headers
    )
    assert noted.status == 200
    assert "asked about parking" in (await noted.json())["notes"]
    filed = await client.post(
        "/api/v1/complaints",
        json={
            "patient_id": world.grace.id,
            "category": "waiting_time",
            "description": "<b>waited</b> an hour",
            "linkedid": linkedid,
        },
        headers=headers,
    )
    assert filed.status == 201
    edited = await client.patch(
        f"/api/v1/patients/{world.grace.id}",
        json={"preferred_language": "zh", "primary_phone": "212 555 0177"},
        headers=headers,
    )
    assert edited.status == 200
    assert set((await edited.json())["changed"]) == {"preferred_language", "primary_phone"}
    registered = await client.post(
        "/api/v1/patients",
        json={
            "given_name": "Nora",
            "family_name": "New",
            "date_of_birth": "1990-01-02",
            "phone": "+12125550111",
        },
        headers=headers,
    )
    assert registered.status == 201
    call = await (await client.get(f"/api/v1/calls/{linkedid}")).json()
    assert call["patient_id"] == world.grace.id
    async with world.server.database.session() as session:
        complaint = await session.get(Complaint, (await filed.json())["id"])
        grace = await session.get(Patient, world.grace.id)
        new = await session.get(Patient, (await registered.json())["id"])
        audit = (
            await session.scalars(
                select(AuditEvent).where(AuditEvent.actor_user_id == world.agent_id)
            )
        ).all()
    assert complaint is not None and complaint.description == "<b>waited</b> an hour"
    assert complaint.call_id is not None and complaint.owner_user_id == world.agent_id
    assert grace is not None and grace.preferred_language == "zh"
    assert new is not None and new.family_name == "New"
    entities = {(a.entity, a.action.value) for a in audit}
    assert {
        ("call", "update"),
        ("complaint", "create"),
        ("patient", "update"),
        ("call", "view"),
    } <= entities


async def test_websocket_sends_the_desk_first_and_refuses_other_origins(world, aiohttp_client):
    client, _token = await _logged_in(aiohttp_client, world, "alice")
    socket = await client.ws_connect("/ws")
    first = await socket.receive_json(timeout=5)
    assert first["type"] == "desk" and first["agent"] is None and first["pops"] == []
    await socket.send_str("ping")
    assert (await socket.receive_json(timeout=5))["type"] == "pong"
    await socket.close()
    try:
        await client.ws_connect("/ws", headers={"Origin": "http://evil.example"})
    except aiohttp.WSServerHandshakeError as exc:
        assert exc.status == 403
    else:
        raise AssertionError("a websocket from another origin was accepted")
    anonymous = await aiohttp_client(create_app(world.server.console_deps()))
    try:
        await anonymous.ws_connect("/ws")
    except aiohttp.WSServerHandshakeError as exc:
        # A script, not a page: told 401, not sent to the login form.
        assert exc.status == 401
        assert exc.request_info.url.path == "/ws"
    else:
        raise AssertionError("an anonymous websocket was accepted")


async def test_every_desk_api_route_is_in_the_served_openapi_document(world, aiohttp_client):
    from web_console.routes import appointments_api, calls_api, desk

    client = await aiohttp_client(create_app(world.server.console_deps()))
    document = await (await client.get("/api/v1/openapi.json")).json()
    missing = []
    for module in (desk, appointments_api, calls_api):
        for route in module.routes:
            path = route.path  # type: ignore[attr-defined]
            if path.startswith("/api/v1") and route.method.lower() not in document["paths"].get(  # type: ignore[attr-defined]
                path, {}
            ):
                missing.append(f"{route.method} {path}")  # type: ignore[attr-defined]
    assert missing == []
    assert "ScreenPop" in document["components"]["schemas"]
    assert "PatientCard" in document["components"]["schemas"]  # the foundation's still there
