"""Desk sign-ins survive a server restart and end with the agent's console session (sandbox).

A first server signs alice in (paused for lunch) and stops without signing anyone out, as a
crash would; Asterisk keeps her as a member of one queue and has lost her from the other. A
second server on the same database puts her back where she is missing, leaves her where she
is, with her pause. Then alice logs out of the console and is signed out of the queues; bob's
session expires and so does his sign-in.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from callcenter.agents.notifier import AgentStateChanged
from callcenter.ami.events import AmiEvent, AmiResynced
from callcenter.server.root import Server, start_server
from hcrm_core.models import AgentSignIn
from tests.support.asterisk_sandbox import AsteriskSandboxHandle
from tests.support.console import login
from tests.support.desk import WAIT, agent_user, desk_settings, running_desk
from tests.support.rig import Recorder, agent_extension
from web_console.app import create_app
from web_console.desk_sessions import DESK_GUARD

pytestmark = pytest.mark.asterisk
_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


async def _members(server: Server, interface: str) -> dict[str, AmiEvent]:
    rows = await server.ami.queue_status()
    return {
        e.queue: e
        for e in rows
        if e.name == "QueueMember"
        and (e.get("StateInterface") == interface or e.get("Location") == interface)
    }


async def _stored(server: Server) -> dict[str, AgentSignIn]:
    async with server.database.session() as session:
        return {r.username: r for r in await session.scalars(select(AgentSignIn))}


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_agents_come_back_after_a_restart_and_leave_with_their_session(
    asterisk_sandbox: AsteriskSandboxHandle, tmp_path, aiohttp_client
) -> None:
    settings = desk_settings(asterisk_sandbox, tmp_path)
    extension = agent_extension(1)
    bob_ext = agent_extension(1)
    first = await start_server(settings, serve_console=False)
    try:
        await Recorder(first.bus).wait_for(AmiResynced, timeout=WAIT)
        alice_id = await agent_user(first, "alice")
        bob_id = await agent_user(first, "bob", extension=bob_ext)
        status = await first.desk.agents.sign_in(alice_id, "alice", extension, session_bound=True)
        await first.desk.agents.pause("alice", "lunch")
        interface = status.interface
        queues = first.desk.agents.queues
        # Asterisk loses her from one queue while the server is down.
        await first.ami.send_action(
            {"Action": "QueueRemove", "Queue": queues[0], "Interface": interface}
        )
    finally:
        await first.stop()  # no sign-out: the server just goes away

    clock = FakeClock()
    async with running_desk(settings) as (second, recorder):
        # Put back into the queue Asterisk lost her from, then paused with her reason.
        def of_lost_queue(name: str):
            return lambda e: (
                e.name == name and e.queue == queues[0] and e.get("Interface") == interface
            )

        await recorder.wait_for(AmiEvent, of_lost_queue("QueueMemberAdded"), timeout=WAIT)
        await recorder.wait_for(AmiEvent, of_lost_queue("QueueMemberPause"), timeout=WAIT)
        restored = second.desk.agents.require("alice")
        assert (restored.interface, restored.paused, restored.pause_reason) == (
            interface,
            True,
            "lunch",
        )
        assert restored.session_bound
        members = await _members(second, interface)
        assert set(members) == set(queues)  # back in the lost queue, once in each
        assert all(m.get("Paused") == "1" for m in members.values())
        assert all(m.get("PausedReason") == "lunch" for m in members.values())

        app = create_app(second.console_deps(), clock=clock)
        client = await aiohttp_client(app)
        # Logging out of the console signs alice out of the queues.
        assert (await login(client, "alice")).status == 302
        token = _META.search(await (await client.get("/desk")).text())
        assert token
        assert (await client.post("/logout", data={"csrf_token": token.group(1)})).status in (
            200,
            302,
        )
        await recorder.wait_for(
            AgentStateChanged,
            lambda c: c.username == "alice" and c.agent["state"] == "signed_out",
            timeout=WAIT,
        )
        assert await _members(second, interface) == {}
        assert "alice" not in await _stored(second)

        # Bob signs in from the console; his session expires: he is signed out too.
        bob_app = create_app(second.console_deps(), clock=clock)
        bob = await aiohttp_client(bob_app)
        assert (await login(bob, "bob")).status == 302
        token = _META.search(await (await bob.get("/desk")).text())
        assert token
        signed = await bob.post(
            "/api/v1/desk/sign-in",
            json={"extension": bob_ext},
            headers={"X-CSRF-Token": token.group(1)},
        )
        assert signed.status == 200, await signed.text()
        assert (await _stored(second))["bob"].user_id == bob_id
        clock.now += second.settings.web.session_idle_minutes * 60 + 1
        await bob_app[DESK_GUARD].check()
        assert second.desk.agents.status("bob") is None
        assert "bob" not in await _stored(second)
