"""A whole server on the sandbox for agent-desk tests (`Local/<ext>@sim-agents` phones)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from callcenter.agi.prompt_audio import build_prompts, sounds_language_dir
from callcenter.ami.events import AmiResynced
from callcenter.asterisk import const
from callcenter.ivr import prompts
from callcenter.server.root import Server, start_server
from callcenter.settings import AgentsSettings, Settings
from hcrm_core.models import Role
from hcrm_core.services.users import create_user
from tests.support.asterisk_sandbox import AsteriskSandboxHandle
from tests.support.rig import (
    Recorder,
    runtime_settings,
)

WAIT = 30.0
SIM_INTERFACE = f"Local/{{extension}}@{const.CONTEXT_SIM_AGENTS}"
HOSPITAL_CID = "+12125550100"


def desk_settings(box: AsteriskSandboxHandle, data_dir: Path) -> Settings:
    settings = runtime_settings(box, data_dir)
    return settings.model_copy(
        update={
            "agents": AgentsSettings(interface=SIM_INTERFACE),
            "hospital": settings.hospital.model_copy(update={"caller_id_number": HOSPITAL_CID}),
        }
    )


@contextlib.asynccontextmanager
async def running_desk(settings: Settings) -> AsyncIterator[tuple[Server, Recorder]]:
    """The server up and resynced with Asterisk; its signed-in agents signed out at the end."""
    server = await start_server(settings, serve_console=False)
    recorder = Recorder(server.bus)
    try:
        await server.ami.wait_ready(WAIT)
        await recorder.wait_for(AmiResynced)
        yield server, recorder
    finally:
        for status in server.desk.agents.agents():
            await server.desk.agents.sign_out(status.username)
        await server.stop()


async def quietest_queue(server: Server) -> str:
    """The queue with the fewest members of other test sessions (the sandbox is shared)."""
    counts = {q.name: 0 for q in const.QUEUES}
    for row in await server.ami.queue_status():
        if row.name == "QueueMember" and row.queue in counts:
            counts[row.queue] += 1
    return min(counts, key=lambda name: counts[name])


async def agent_user(
    server: Server, username: str = "alice", *, extension: str | None = None
) -> int:
    """An agent user; ``extension`` is the phone the desk lets them sign in on."""
    async with server.database.transaction() as session:
        user = await create_user(
            session,
            username=username,
            password="correct-horse-battery",
            role=Role.AGENT,
            extension=extension,
        )
        return user.id


async def render_ivr_prompts(box: AsteriskSandboxHandle) -> None:
    """The IVR's fixed prompts in the sandbox's sounds (kept when already rendered)."""
    await asyncio.to_thread(
        build_prompts, prompts.CATALOGUE, sounds_language_dir(box.settings, sandbox=True)
    )
