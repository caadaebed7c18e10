"""An agent on a queue call when the server restarts is shown on that call at once (sandbox).

A first server signs alice in on an auto-answer Local phone; a queue call reaches her and she
talks. The server stops without signing anyone out, as a crash would, while the call goes on
in Asterisk. A second server on the same database restores her from the database and from
the bridge's first resync: the first state it announces for her is ``on_call`` with the
call's Linkedid (no member event has said so yet), and so says her desk. When the caller
hangs up, Asterisk's AgentComplete takes her to wrap-up as for any call.
"""

from __future__ import annotations

import uuid

import pytest

from callcenter.agents.notifier import AgentStateChanged
from callcenter.ami.events import AmiEvent, AmiResynced
from callcenter.asterisk import const
from callcenter.server.root import Server, start_server
from tests.support.asterisk_sandbox import AsteriskSandboxHandle
from tests.support.console import login
from tests.support.desk import (
    WAIT,
    agent_user,
    desk_settings,
    quietest_queue,
    running_desk,
)
from tests.support.rig import Recorder, agent_extension
from web_console.app import create_app

pytestmark = pytest.mark.asterisk
PHONE = "+12125550177"
# Long enough to outlast the restart: the test ends the call itself by hanging up the caller.
TALK_SECONDS = "120"


async def _in_call(server: Server, interface: str) -> set[str]:
    """Asterisk's own view: the queues where the member talks to a caller (InCall)."""
    rows = await server.ami.queue_status()
    return {
        e.queue
        for e in rows
        if e.name == "QueueMember" and e.get("Location") == interface and e.get("InCall") == "1"
    }


def _of_alice(state: str, linkedid: str):
    return lambda c: (
        c.username == "alice" and c.agent["state"] == state and c.agent["linkedid"] == linkedid
    )


async def test_an_agent_on_a_call_is_restored_on_it_and_wraps_up_when_it_ends(
    asterisk_sandbox: AsteriskSandboxHandle, tmp_path, aiohttp_client
) -> None:
    settings = desk_settings(asterisk_sandbox, tmp_path)
    extension = agent_extension(1)  # 1XXX answer by themselves
    linkedid = f"cc-{uuid.uuid4().hex[:16]}"
    first = await start_server(settings, serve_console=False)
    try:
        recorder = Recorder(first.bus)
        await recorder.wait_for(AmiResynced, timeout=WAIT)
        alice_id = await agent_user(first, "alice")
        status = await first.desk.agents.sign_in(alice_id, "alice", extension, session_bound=True)
        interface = status.interface
        queue = await quietest_queue(first)
        await first.ami.originate(
            f"Local/s@{const.CONTEXT_SIM_PATIENT}",
            context=const.CONTEXT_QUEUES,
            exten=queue,
            caller_id=f'"Restored" <{PHONE}>',
            channel_id=linkedid,
            variables={
                "SIM_HOLD": TALK_SECONDS,
                "__SIM_AGENT_RING": "1",
                "__SIM_AGENT_TALK": TALK_SECONDS,
            },
        )
        await recorder.wait_for(AgentStateChanged, _of_alice("on_call", linkedid), timeout=WAIT)
    finally:
        await first.stop()  # no sign-out: the server just goes away mid-call

    async with running_desk(settings) as (second, recorder):
        assert await _in_call(second, interface) == {queue}  # the call went on in Asterisk
        announced = await recorder.wait_for(
            AgentStateChanged, lambda c: c.username == "alice", timeout=WAIT
        )
        # The first word on alice is already the call: never "ready" in between.
        assert (announced[0].agent["state"], announced[0].agent["linkedid"]) == (
            "on_call",
            linkedid,
        )
        assert announced[0].agent["device"] == "inuse"
        restored = second.desk.agents.require("alice")
        assert (restored.state.value, restored.linkedid) == ("on_call", linkedid)
        # No member event about her call reached the second server before that.
        assert not recorder.of(
            AmiEvent,
            lambda e: e.name.startswith("Agent") and e.get("Interface") == interface,
        )

        client = await aiohttp_client(create_app(second.console_deps()))
        assert (await login(client, "alice")).status == 302
        desk = await (await client.get("/api/v1/desk")).json()
        assert (desk["agent"]["state"], desk["agent"]["linkedid"]) == ("on_call", linkedid)

        # The caller hangs up: AgentComplete, then wrap-up for this call, as for any call.
        # (Sent as the caller's channel goes, it often names no channel, so no Linkedid.)
        await second.ami.send_action(
            {"Action": "Hangup", "Channel": await _caller(second, linkedid)}
        )
        await recorder.wait_for(
            AmiEvent,
            lambda e: e.name == "AgentComplete" and e.get("Interface") == interface,
            timeout=WAIT,
        )
        await recorder.wait_for(AgentStateChanged, _of_alice("wrap_up", linkedid), timeout=WAIT)
        assert second.desk.agents.require("alice").state.value == "wrap_up"
        assert await _in_call(second, interface) == set()
        desk = await (await client.get("/api/v1/desk")).json()
        assert (desk["agent"]["state"], desk["agent"]["linkedid"]) == ("wrap_up", linkedid)
        second.desk.agents.wrap_up_done("alice", linkedid)
        assert second.desk.agents.require("alice").state.value == "ready"


async def _caller(server: Server, linkedid: str) -> str:
    """The caller's channel (Originate's ChannelId made its Uniqueid the call's Linkedid)."""
    channels = await server.ami.core_show_channels()
    (channel,) = (c.channel for c in channels if c.uniqueid == linkedid)
    return channel
