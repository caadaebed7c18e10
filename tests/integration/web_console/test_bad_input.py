"""Bad input is a 4xx naming the field, never a 500, against the real app on both engines.

Each case used to be a 500: an id in non-ASCII digits, JSON nested 50,000 deep, a lone
surrogate or a NUL in a text field (accepted by SQLite, refused by PostgreSQL half-way through
the work), and a CSRF header that is not UTF-8 (a stack trace in the log on every request).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from hcrm_core.db import Database
from hcrm_core.models import Patient
from tests.support.console import ConsoleWorld, csrf_from, login, start_console_world
from web_console.app import create_app

_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


@pytest.fixture
async def engine_world(database: Database, tmp_path: Path) -> AsyncIterator[ConsoleWorld]:
    await database.dispose()
    world = await start_console_world(tmp_path / "data", database.url)
    yield world
    await world.server.stop()


async def _agent(world: ConsoleWorld, aiohttp_client: Any) -> tuple[Any, dict[str, str]]:
    client = await aiohttp_client(create_app(world.server.console_deps()))
    assert (await login(client, "alice")).status == 302
    match = _META.search(await (await client.get("/desk")).text())
    assert match
    return client, {"X-CSRF-Token": match.group(1)}


async def _refused(response: Any, field: str, status: int | None = None) -> None:
    answer = await response.json()
    assert 400 <= response.status < 500, (response.url, response.status, answer)
    if status is not None:
        assert response.status == status, answer
    assert answer["field"] == field, answer


async def test_ids_in_other_scripts_digits_are_refused_naming_the_field(
    engine_world: ConsoleWorld, aiohttp_client: Any
) -> None:
    client, headers = await _agent(engine_world, aiohttp_client)
    grace = engine_world.grace.id
    wide = "".join(chr(0xFF10 + int(d)) for d in str(grace))  # full-width digits
    for raw in ("%C2%B2", wide, "1%D9%A3", "%00"):  # '²', full width, Arabic-Indic, NUL
        await _refused(await client.get(f"/api/v1/patients/{raw}"), "patient_id", 422)
        await _refused(await client.get(f"/api/v1/patients/{raw}/calls"), "patient_id", 422)
        await _refused(
            await client.post(f"/api/v1/appointments/{raw}/cancel", json={}, headers=headers),
            "appointment_id",
            422,
        )
    # Full-width digits named patient 1 (or Grace): now they name no one.
    assert (await client.get(f"/api/v1/patients/{wide}")).status == 422
    await _refused(await client.get("/api/v1/patients?q=grace&limit=%C2%B2"), "limit", 422)
    await _refused(await client.get("/api/v1/slots?department_id=%EF%BC%91"), "department_id")
    assert (await client.get(f"/api/v1/patients/{grace}")).status == 200


async def test_deep_json_surrogates_and_nul_are_400_naming_the_field(
    engine_world: ConsoleWorld, aiohttp_client: Any
) -> None:
    client, headers = await _agent(engine_world, aiohttp_client)
    grace = engine_world.grace.id
    json_headers = {**headers, "Content-Type": "application/json"}
    deep = await client.post("/api/v1/complaints", data="[" * 50_000, headers=json_headers)
    await _refused(deep, "body", 400)
    nested = '{"description": ' + "[" * 40 + "]" * 40 + "}"
    await _refused(
        await client.post("/api/v1/complaints", data=nested, headers=json_headers),
        "description",
        400,
    )
    surrogate = '{"category": "waiting_time", "description": "x\\ud800y", "patient_id": %d}'
    await _refused(
        await client.post("/api/v1/complaints", data=surrogate % grace, headers=json_headers),
        "description",
        400,
    )
    for path, body, field in [
        (f"/api/v1/patients/{grace}", {"address": "1 Main St\u0000"}, "address"),
        (f"/api/v1/patients/{grace}", {"notes": "a\u0000b"}, "notes"),
        (
            "/api/v1/patients",
            {"given_name": "N\u0000", "date_of_birth": "1990-01-02"},
            "given_name",
        ),
        (
            "/api/v1/complaints",
            {"patient_id": grace, "category": "waiting_time", "description": "\u0000"},
            "description",
        ),
        ("/api/v1/desk/pause", {"reason": "lunch\u0000"}, "reason"),
        ("/api/v1/desk/dial", {"number": "+1212\u00005550100"}, "number"),
    ]:
        method = client.patch if path.startswith("/api/v1/patients/") else client.post
        await _refused(await method(path, json=body, headers=headers), field, 400)
    await _refused(await client.get("/api/v1/patients?q=gr%00ace"), "q", 400)
    async with engine_world.server.database.session() as session:
        names = list(await session.scalars(select(Patient.given_name)))
        stored = await session.get(Patient, grace)
    assert not any("\x00" in n for n in names)
    assert stored is not None and "\x00" not in (stored.address or "")


async def test_form_fields_with_nul_are_400_naming_the_field(
    engine_world: ConsoleWorld, aiohttp_client: Any
) -> None:
    client = await aiohttp_client(create_app(engine_world.server.console_deps()))
    assert (await login(client, "sam")).status == 302
    token = csrf_from(await (await client.get("/campaigns")).text())
    response = await client.post(
        "/campaigns", data={"name": "Night\x00", "kind": "survey", "csrf_token": token}
    )
    assert response.status == 400
    assert "name" in await response.text()
    assert await engine_world.server.outbound.campaigns.all() == []
    monitor = await client.post(
        "/api/v1/recordings/monitor",
        data={"csrf_token": token, "linkedid": "x\x00", "mode": "listen"},
    )
    await _refused(monitor, "linkedid", 400)
    # A login form is read the same way (before any password is checked).
    anonymous = await aiohttp_client(create_app(engine_world.server.console_deps()))
    page = await anonymous.get("/login")
    login_token = csrf_from(await page.text())
    refused = await anonymous.post(
        "/login",
        data={"username": "alice\x00", "password": "x", "csrf_token": login_token},
        allow_redirects=False,
    )
    assert refused.status == 400


async def _raw_post(client: Any, path: str, headers: list[bytes]) -> int:
    """POST with header bytes exactly as given (an HTTP client would encode them as UTF-8)."""
    reader, writer = await asyncio.open_connection(client.host, client.port)
    try:
        body = b"{}"
        writer.write(
            b"POST "
            + path.encode()
            + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
            + b"Content-Type: application/json\r\n"
            + b"Content-Length: "
            + str(len(body)).encode()
            + b"\r\n"
            + b"".join(h + b"\r\n" for h in headers)
            + b"\r\n"
            + body
        )
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), timeout=10)
        await asyncio.wait_for(reader.read(), timeout=10)
    finally:
        writer.close()
    return int(status_line.split()[1])


async def test_a_csrf_header_that_is_not_utf8_is_403_without_a_trace(
    engine_world: ConsoleWorld, aiohttp_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR)
    anonymous = await aiohttp_client(create_app(engine_world.server.console_deps()))
    await anonymous.get("/login")
    agent, _headers = await _agent(engine_world, aiohttp_client)
    bad_token = b"X-CSRF-Token: \xff\xfe\x80token"
    for client in (anonymous, agent):
        cookies = "; ".join(f"{c.key}={c.value}" for c in client.session.cookie_jar)
        cookie = b"Cookie: " + cookies.encode()
        assert await _raw_post(client, "/login", [bad_token, cookie]) == 403
        assert await _raw_post(client, "/api/v1/desk/pause", [bad_token, cookie]) in (401, 403)
    # A login CSRF cookie that is not UTF-8 either.
    bad_cookie = b"Cookie: cc_login_csrf=\xff\xfe"
    assert await _raw_post(anonymous, "/login", [b"X-CSRF-Token: abc", bad_cookie]) == 403
    assert "unexpected" not in caplog.text and "Traceback" not in caplog.text
