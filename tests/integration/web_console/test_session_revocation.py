"""A session follows its user's row: disabled users are out, a new role applies at once
(every look-up reads the user's row)."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import WSMsgType
from sqlalchemy import func, select

from hcrm_core.models import ConsoleSession, Role, User
from tests.support.console import ConsoleWorld, login
from web_console.app import create_app
from web_console.ws import CLOSE_ROLE_CHANGED, CLOSE_SESSION_ENDED

WAIT = 10


async def _update(world: ConsoleWorld, username: str, **values: object) -> None:
    async with world.server.database.transaction() as session:
        user = await session.scalar(select(User).where(User.username == username))
        assert user is not None
        for name, value in values.items():
            setattr(user, name, value)


async def _stored_sessions(world: ConsoleWorld, username: str) -> int:
    async with world.server.database.session() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(ConsoleSession)
            .join(User, User.id == ConsoleSession.user_id)
            .where(User.username == username)
        )
    return int(count or 0)


async def test_a_disabled_user_is_logged_out_on_the_next_request(world, aiohttp_client):
    app = create_app(world.server.console_deps())
    client = await aiohttp_client(app)
    assert (await login(client, "agent1")).status == 302
    assert (await client.get("/api/v1/patients?q=grace")).status == 200
    await _update(world, "agent1", active=False)
    refused = await client.get("/api/v1/patients?q=grace")
    assert refused.status == 401
    assert (await refused.json())["error"] == "unauthenticated"
    page = await client.get("/patients", allow_redirects=False)
    assert page.status == 302
    assert page.headers["Location"].startswith("/login?next=")
    assert await _stored_sessions(world, "agent1") == 0  # ended, not just refused once
    await _update(world, "agent1", active=True)
    assert (await client.get("/api/v1/patients?q=grace")).status == 401  # stays ended


async def test_a_changed_role_applies_on_the_next_request(world, aiohttp_client):
    client = await aiohttp_client(create_app(world.server.console_deps()))
    assert (await login(client, "agent2")).status == 302
    assert (await client.get("/supervisor")).status == 403
    await _update(world, "agent2", role=Role.SUPERVISOR)
    assert (await client.get("/supervisor")).status == 200
    assert "agent2 (supervisor)" in await (await client.get("/")).text()
    await _update(world, "agent2", role=Role.AGENT)
    assert (await client.get("/supervisor")).status == 403


async def _closed_with(socket) -> int | None:
    """The code of the server's close frame."""
    async with asyncio.timeout(WAIT):
        while True:
            message = await socket.receive()
            if message.type is WSMsgType.CLOSE:
                return int(message.data)
            if message.type in (WSMsgType.CLOSED, WSMsgType.ERROR):
                return None


@pytest.fixture
def quick_sweep(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("web_console.ws.SESSION_CHECK_SECONDS", 0.05)


@pytest.mark.usefixtures("quick_sweep")
async def test_the_websocket_of_a_disabled_user_is_closed(world, aiohttp_client):
    client = await aiohttp_client(create_app(world.server.console_deps()))
    assert (await login(client, "agent3")).status == 302
    socket = await client.ws_connect("/ws")
    try:
        # The user only listens (no requests): the background check finds them.
        await _update(world, "agent3", active=False)
        assert await _closed_with(socket) == CLOSE_SESSION_ENDED
    finally:
        await socket.close()
        await _update(world, "agent3", active=True)


@pytest.mark.usefixtures("quick_sweep")
async def test_the_websocket_of_a_user_given_a_new_role_reconnects(world, aiohttp_client):
    client = await aiohttp_client(create_app(world.server.console_deps()))
    assert (await login(client, "agent4")).status == 302
    socket = await client.ws_connect("/ws")
    try:
        await _update(world, "agent4", role=Role.SUPERVISOR)
        assert await _closed_with(socket) == CLOSE_ROLE_CHANGED
    finally:
        await socket.close()
    assert (await client.get("/supervisor")).status == 200
