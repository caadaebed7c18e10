"""The websocket hub with real sockets: a browser that stops reading is cut off, others are not."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Coroutine
from typing import Any

import aiohttp
import pytest

from hcrm_core.models import Role
from tests.support.console import ConsoleWorld, login
from web_console.app import create_app
from web_console.keys import WS_HUB

_ENDED = (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR)
PADDING = "x" * 2000  # 2 kB per message: a stalled reader's buffers fill quickly


def _completes_without_waiting(coroutine: Coroutine[Any, Any, None]) -> None:
    """Run a coroutine one step: it must finish without ever suspending (waiting on I/O)."""
    try:
        coroutine.send(None)
    except StopIteration:
        return
    coroutine.close()
    raise AssertionError("broadcast waited on something")


async def _socket(aiohttp_client, app, user: str):
    client = await aiohttp_client(app)
    assert (await login(client, user)).status == 302
    socket = await client.ws_connect("/ws")
    assert (await socket.receive_json(timeout=5))["type"] == "desk"
    return socket


async def test_a_stalled_browser_is_closed_and_never_delays_the_others(
    world: ConsoleWorld, aiohttp_client
):
    app = create_app(world.server.console_deps())
    fast = await _socket(aiohttp_client, app, "alice")
    slow = await _socket(aiohttp_client, app, "agent1")  # connected, never reads again
    supervisor = await _socket(aiohttp_client, app, "sam")
    hub = app[WS_HUB]
    received: list[int] = []

    async def read_fast() -> None:
        while len(received) < 3000:
            message = await fast.receive_json(timeout=10)
            received.append(message["n"])

    reader = asyncio.create_task(read_fast())
    for n in range(3000):
        _completes_without_waiting(
            hub.broadcast(Role.AGENT, {"type": "test", "n": n, "pad": PADDING})
        )
        if n % 20 == 0:
            await asyncio.sleep(0)  # events arrive over time, as from the bus
    await asyncio.wait_for(reader, 20)
    assert received == list(range(3000))  # every message, in order, to the reader
    assert hub.closed_slow == 1
    # The stalled socket was closed (politely with 1013 "try again later", or dropped).
    while True:
        message = await slow.receive(timeout=10)
        if message.type in _ENDED:
            break
    assert len(hub) == 2
    # Role filtering: the supervisor's socket got none of the agents' messages.
    await hub.send_to_user("sam", {"type": "only-sam"})
    seen = []
    while not seen or seen[-1] != "only-sam":
        seen.append((await supervisor.receive_json(timeout=5))["type"])
    assert "test" not in seen
    for socket in (fast, supervisor):
        await socket.close()


async def test_a_socket_whose_session_ended_is_closed(world: ConsoleWorld, aiohttp_client):
    from web_console.keys import SESSIONS

    app = create_app(world.server.console_deps())
    client = await aiohttp_client(app)
    assert (await login(client, "alice")).status == 302
    socket = await client.ws_connect("/ws")
    assert (await socket.receive_json(timeout=5))["type"] == "desk"
    page = await client.get("/desk")
    token = re.search(r'name="csrf_token" value="([^"]+)"', await page.text())
    assert token
    assert (await client.post("/logout", data={"csrf_token": token.group(1)})).status in (200, 302)
    hub = app[WS_HUB]
    checker = asyncio.create_task(hub.close_ended_sessions(app[SESSIONS].current, every=0.05))
    try:
        while True:
            message = await socket.receive(timeout=5)
            if message.type in _ENDED:
                break
    finally:
        checker.cancel()
    # The logout itself closes the socket; its close frame carries the code (the server may
    # drop the connection before this client, busy logging out, replies: close_code is then
    # 1006, while a browser's close event still reports the frame's 4401).
    assert message.type is aiohttp.WSMsgType.CLOSE
    assert message.data == 4401
    assert len(hub) == 0


async def test_an_anonymous_socket_gets_401_not_a_login_redirect(
    world: ConsoleWorld, aiohttp_client
):
    client = await aiohttp_client(create_app(world.server.console_deps()))
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await client.ws_connect("/ws")
    assert refused.value.status == 401
    plain = await client.get("/ws", allow_redirects=False)
    assert plain.status == 401
    assert (await plain.json())["error"] == "unauthenticated"
    assert "Location" not in plain.headers
    # Pages still send a person to the login form.
    page = await client.get("/desk", allow_redirects=False)
    assert page.status == 302
    assert page.headers["Location"].startswith("/login")
