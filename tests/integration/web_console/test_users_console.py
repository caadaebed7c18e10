"""Admins keep users from the console and /api/v1/users, on a real server with a fake AMI,
on both engines: roles and CSRF, refusals naming the field, and changes that act at once
(a disabled user's session ends, their websocket closes and they leave the queues before the
answer; a new role applies without waiting for the periodic check); the must-change flow.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import WSMsgType
from sqlalchemy import select
from yarl import URL

from hcrm_core.actors import Actor
from hcrm_core.db import Database
from hcrm_core.models import AuditAction, AuditEvent
from hcrm_core.services import user_admin
from hcrm_core.services.users import user_by_name
from tests.support.console import ConsoleWorld, csrf_from, login, start_console_world
from tests.support.fake_ami import FakeAmi
from web_console.app import create_app
from web_console.keys import SESSIONS
from web_console.ws import CLOSE_ROLE_CHANGED, CLOSE_SESSION_ENDED

_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')
WAIT = 10.0
# Closing is immediate: well under the periodic sweep (made far longer below).
AT_ONCE = 2.0


@dataclass
class UsersWorld:
    world: ConsoleWorld
    fake: FakeAmi

    @property
    def server(self) -> Any:
        return self.world.server


class FrozenClock:
    """The store's clock, standing still: no session expires and no sweep ends one, so
    whatever changes them here is the admin's action itself."""

    def __call__(self) -> float:
        return 1000.0


@pytest.fixture
async def users_world(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[UsersWorld]:
    monkeypatch.setattr("web_console.account_check.SWEEP_SECONDS", 3600.0)
    monkeypatch.setattr("web_console.ws.SESSION_CHECK_SECONDS", 3600.0)
    await database.dispose()
    fake = FakeAmi(secret="not-used")
    fake.succeed |= {"queueadd", "queueremove", "queuepause"}
    await fake.start()
    world = await start_console_world(tmp_path / "data", database.url, ami_port=fake.port)
    try:
        await world.server.ami.wait_ready(WAIT)
        yield UsersWorld(world, fake)
    finally:
        await world.server.stop()
        await fake.stop()


async def _client(
    uw: UsersWorld, aiohttp_client: Any, username: str, beside: Any = None
) -> tuple[Any, dict[str, str]]:
    """A logged-in client; ``beside`` another client whose console (one app: one session
    store, one websocket hub, as in production) it shares, with its own cookies."""
    if beside is None:
        client = await aiohttp_client(create_app(uw.server.console_deps(), clock=FrozenClock()))
    else:
        client = await aiohttp_client(beside.server)
    assert (await login(client, username)).status == 302
    match = _META.search(await (await client.get("/")).text())
    assert match
    return client, {"X-CSRF-Token": match.group(1)}


async def _closed_with(socket: Any) -> int | None:
    async with asyncio.timeout(AT_ONCE):
        while True:
            message = await socket.receive()
            if message.type is WSMsgType.CLOSE:
                return int(message.data)
            if message.type in (WSMsgType.CLOSED, WSMsgType.ERROR):
                return None


async def test_only_admins_reach_users_writes_need_csrf_and_refusals_name_the_field(
    users_world, aiohttp_client
):
    admin, _ = await _client(users_world, aiohttp_client, "ada")
    for username in ("alice", "sam"):
        other, other_headers = await _client(users_world, aiohttp_client, username, admin)
        for method, path in (
            ("GET", "/api/v1/users"),
            ("POST", "/api/v1/users"),
            ("GET", "/api/v1/users/1"),
            ("PATCH", "/api/v1/users/1"),
            ("POST", "/api/v1/users/1/disable"),
            ("POST", "/api/v1/users/1/enable"),
            ("POST", "/api/v1/users/1/reset-password"),
        ):
            answer = await other.request(method, path, json={}, headers=other_headers)
            assert answer.status == 403, (username, method, path)
            assert (await answer.json())["error"] == "forbidden"
        for path in ("/admin/users", "/admin/users/1", "/admin/users/1/disable"):
            assert (await other.get(path)).status == 403, (username, path)
    listed = await (await admin.get("/api/v1/users")).json()
    assert {u["username"] for u in listed["users"]} >= {"alice", "sam", "ada"}
    no_csrf = await admin.post("/api/v1/users", json={"username": "eve", "role": "agent"})
    assert no_csrf.status == 403
    alice = users_world.world.agent_id
    assert (await admin.post(f"/api/v1/users/{alice}/disable", json={})).status == 403
    assert (await admin.get(f"/api/v1/users/{alice}")).status == 200
    assert (await user_by_name(users_world.server.database, "alice")).active
    await _api_refusals_name_the_field(users_world, aiohttp_client)


async def _api_refusals_name_the_field(users_world: UsersWorld, aiohttp_client: Any) -> None:
    admin, headers = await _client(users_world, aiohttp_client, "ada")
    alice = users_world.world.agent_id
    for body, status, field in (
        ({"role": "agent"}, 422, "username"),
        ({"username": "eve"}, 422, "role"),
        ({"username": "eve", "role": "boss"}, 422, "role"),
        ({"username": "eve", "role": "agent", "extension": "12a"}, 422, "extension"),
        ({"username": "eve", "role": "agent", "password": "short"}, 422, "password"),
        ({"username": "eve", "role": "agent", "colour": "red"}, 422, "colour"),
        ({"username": "alice", "role": "agent"}, 409, "username"),
    ):
        answer = await admin.post("/api/v1/users", json=body, headers=headers)
        assert (answer.status, (await answer.json())["field"]) == (status, field), body
    for body, status, field in (
        ({}, 422, "body"),
        ({"role": "janitor"}, 422, "role"),
        ({"extension": "1"}, 422, "extension"),
        ({"display_name": 7}, 422, "display_name"),
    ):
        answer = await admin.patch(f"/api/v1/users/{alice}", json=body, headers=headers)
        assert (answer.status, (await answer.json())["field"]) == (status, field), body
    assert (await admin.get("/api/v1/users/x1")).status == 422
    assert (await admin.get("/api/v1/users/99999")).status == 404
    ada = (await user_by_name(users_world.server.database, "ada")).id
    itself = await admin.post(f"/api/v1/users/{ada}/disable", json={}, headers=headers)
    assert (itself.status, (await itself.json())["field"]) == (422, "active")
    own = await admin.post(f"/api/v1/users/{ada}/reset-password", json={}, headers=headers)
    assert (own.status, (await own.json())["field"]) == (422, "password")
    last = await admin.patch(f"/api/v1/users/{ada}", json={"role": "agent"}, headers=headers)
    assert (last.status, (await last.json())["field"]) == (422, "role")


async def test_disabling_and_a_new_role_act_at_once(users_world, aiohttp_client):
    server = users_world.server
    admin, headers = await _client(users_world, aiohttp_client, "ada")
    user_id = (await user_by_name(server.database, "agent5")).id
    assigned = await admin.patch(
        f"/api/v1/users/{user_id}", json={"extension": "1005"}, headers=headers
    )
    assert assigned.status == 200
    agent, agent_headers = await _client(users_world, aiohttp_client, "agent5", admin)
    signed = await agent.post("/api/v1/desk/sign-in", json={}, headers=agent_headers)
    assert signed.status == 200, await signed.text()
    socket = await agent.ws_connect("/ws")
    try:
        answer = await admin.post(f"/api/v1/users/{user_id}/disable", json={}, headers=headers)
        assert answer.status == 200, await answer.text()
        body = await answer.json()
        assert (body["active"], body["sessions_ended"]) == (False, 1)
        # Before the answer: no session, out of the queues.
        assert await admin.app[SESSIONS].user_sessions(user_id) == []
        assert server.desk.agents.status("agent5") is None
        assert any(a["Interface"] == "PJSIP/1005" for a in users_world.fake.actions("queueremove"))
        assert await _closed_with(socket) == CLOSE_SESSION_ENDED
    finally:
        await socket.close()
    refused = await agent.get("/api/v1/patients?q=grace")
    assert refused.status == 401
    enabled = await admin.post(f"/api/v1/users/{user_id}/enable", json={}, headers=headers)
    assert (await enabled.json())["active"] is True
    assert (await agent.get("/api/v1/patients?q=grace")).status == 401  # stays ended
    async with server.database.session() as session:
        rows = (
            await session.scalars(
                select(AuditEvent)
                .where(AuditEvent.entity == "user", AuditEvent.entity_id == str(user_id))
                .where(AuditEvent.action == AuditAction.UPDATE)
                .order_by(AuditEvent.id)
            )
        ).all()
    assert [(r.action, r.actor, r.detail) for r in rows] == [
        (AuditAction.UPDATE, "user:ada", {"extension": [None, "1005"]}),
        (AuditAction.UPDATE, "user:ada", {"active": False}),
        (AuditAction.UPDATE, "user:ada", {"active": True}),
    ]
    await _a_new_role_applies_at_once(users_world, aiohttp_client)


async def _a_new_role_applies_at_once(users_world: UsersWorld, aiohttp_client: Any) -> None:
    admin, headers = await _client(users_world, aiohttp_client, "ada")
    agent, _ = await _client(users_world, aiohttp_client, "agent6", admin)
    user_id = (await user_by_name(users_world.server.database, "agent6")).id
    assert (await agent.get("/supervisor")).status == 403
    socket = await agent.ws_connect("/ws")
    try:
        answer = await admin.patch(
            f"/api/v1/users/{user_id}", json={"role": "supervisor"}, headers=headers
        )
        assert (await answer.json())["role"] == "supervisor"
        assert await _closed_with(socket) == CLOSE_ROLE_CHANGED
    finally:
        await socket.close()
    assert (await agent.get("/supervisor")).status == 200


async def test_a_temporary_password_allows_nothing_but_changing_it(users_world, aiohttp_client):
    admin, headers = await _client(users_world, aiohttp_client, "ada")
    created = await admin.post(
        "/api/v1/users",
        json={"username": "Nurse.Li", "role": "agent", "extension": "1010"},
        headers=headers,
    )
    assert created.status == 201
    body = await created.json()
    temporary, user_id = body["temporary_password"], body["id"]
    assert body["must_change_password"] and body["username"] == "nurse.li"

    client = await aiohttp_client(admin.server)
    assert (await login(client, "nurse.li", temporary)).status == 302
    page = await client.get("/patients?q=x", allow_redirects=False)
    location = URL(page.headers["Location"])
    assert (page.status, location.path, location.query["next"]) == (
        303,
        "/account/password",
        "/patients?q=x",
    )
    api = await client.get("/api/v1/patients?q=grace")
    assert (api.status, (await api.json())["error"]) == (403, "password_change_required")
    assert (await client.get("/ws")).status == 403
    form_page = await client.get("/account/password?next=%2Fpatients%3Fq%3Dx")
    html = await form_page.text()
    assert "temporary password" in html
    token = csrf_from(html)

    async def change(current: str, new: str, again: str) -> Any:
        data = {
            "csrf_token": token,
            "current_password": current,
            "new_password": new,
            "new_password_again": again,
            "next": "/patients?q=x",
        }
        return await client.post("/account/password", data=data, allow_redirects=False)

    for current, new, again, field in (
        ("wrong-password!", "li-own-password-1", "li-own-password-1", "current_password"),
        (temporary, "li-own-password-1", "li-own-password-2", "new_password_again"),
        (temporary, "short", "short", "new_password"),
        (temporary, "nurse.li", "nurse.li", "new_password"),
        (temporary, temporary, temporary, "new_password"),
    ):
        refused = await change(current, new, again)
        assert refused.status == 422, field
        assert f'id="{field}-error"' in await refused.text(), field
    done = await change(temporary, "li-own-password-1", "li-own-password-1")
    assert (done.status, done.headers["Location"]) == (303, "/patients?q=x")
    assert (await client.get("/api/v1/patients?q=grace")).status == 200
    shown = await (await admin.get(f"/api/v1/users/{user_id}")).json()
    assert not shown["must_change_password"] and shown["password_changed_at"]

    # A reset ends the session at once; the new temporary password must be changed again.
    reset = await admin.post(f"/api/v1/users/{user_id}/reset-password", json={}, headers=headers)
    again_temporary = (await reset.json())["temporary_password"]
    assert again_temporary and again_temporary != temporary
    assert (await client.get("/api/v1/patients?q=grace")).status == 401
    assert (await login(client, "nurse.li", "li-own-password-1")).status == 401
    assert (await login(client, "nurse.li", again_temporary)).status == 302
    assert (await client.get("/desk", allow_redirects=False)).status == 303
    logout_token = csrf_from(await (await client.get("/account/password")).text())
    out = await client.post("/logout", data={"csrf_token": logout_token}, allow_redirects=False)
    assert out.status == 302


async def test_pages_keep_input_and_show_the_refusal_at_the_field(users_world, aiohttp_client):
    admin, _ = await _client(users_world, aiohttp_client, "ada")
    page = await admin.get("/admin/users")
    html = await page.text()
    assert 'id="users"' in html and 'id="new-user"' in html and "Never" in html
    token = csrf_from(html)
    form = {
        "csrf_token": token,
        "username": "nurse.wu",
        "display_name": "Wu <b>Fang</b>",
        "role": "supervisor",
        "extension": "12x",
    }
    refused = await admin.post("/admin/users", data=form)
    text = await refused.text()
    assert refused.status == 422
    assert 'id="extension-error">Use 2-8 digits<' in text
    assert 'value="nurse.wu"' in text and 'value="12x"' in text
    assert "Wu &lt;b&gt;Fang&lt;/b&gt;" in text
    assert '<option value="supervisor" selected>' in text

    created = await admin.post("/admin/users", data={**form, "extension": "1020"})
    text = await created.text()
    assert created.status == 200 and "shown only once" in text
    temporary = re.search(r'id="temporary-password">([^<]+)<', text)
    assert temporary
    user_id = (await user_by_name(users_world.server.database, "nurse.wu")).id

    edit = await admin.get(f"/admin/users/{user_id}")
    assert "Must change password" in await edit.text() or "must change" in await edit.text()
    taken = await admin.post(
        f"/admin/users/{user_id}",
        data={"csrf_token": token, "display_name": "Wu", "role": "agent", "extension": "1020"},
        allow_redirects=False,
    )
    assert taken.status == 303
    clash = await admin.post(
        "/admin/users",
        data={**form, "username": "nurse.xu", "extension": "1020"},
    )
    assert clash.status == 409
    assert 'id="extension-error">Extension 1020 is already assigned to' in await clash.text()

    confirm = await admin.get(f"/admin/users/{user_id}/disable")
    assert "Yes, disable nurse.wu" in await confirm.text()
    assert (await user_by_name(users_world.server.database, "nurse.wu")).active
    disabled = await admin.post(
        f"/admin/users/{user_id}/disable", data={"csrf_token": token}, allow_redirects=False
    )
    assert (disabled.status, disabled.headers["Location"]) == (
        303,
        f"/admin/users/{user_id}?done=disabled",
    )
    assert not (await user_by_name(users_world.server.database, "nurse.wu")).active
    reset = await admin.post(f"/admin/users/{user_id}/reset-password", data={"csrf_token": token})
    assert reset.status == 200 and 'id="temporary-password"' in await reset.text()
    assert (await admin.get(f"/admin/users/{user_id}/explode")).status == 404


class SteppedClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_a_password_reset_elsewhere_ends_the_session_at_the_next_check(world, aiohttp_client):
    """``callcenter user reset-password`` runs in another process: the session check notices."""
    clock = SteppedClock()
    client = await aiohttp_client(create_app(world.server.console_deps(), clock=clock))
    assert (await login(client, "agent7")).status == 302
    assert (await client.get("/api/v1/patients?q=grace")).status == 200
    user = await user_by_name(world.server.database, "agent7")
    await user_admin.reset_password(world.server.database, user.id, Actor("cli"))
    assert (await client.get("/api/v1/patients?q=grace")).status == 401
