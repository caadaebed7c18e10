"""A whole server runtime on the sandbox for agent-desk tests (`Local/<ext>@sim-agents` phones)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from pydantic import SecretStr

from callcenter.ami.bridge import AmiBridge
from callcenter.ami.events import AmiResynced
from callcenter.asterisk import const
from callcenter.bus import EventBus
from callcenter.ivr import prompts
from callcenter.ivr.build_prompts import build_prompts, sounds_language_dir
from callcenter.server.runtime import Runtime, start_runtime, stop_runtime
from callcenter.settings import AgentsSettings, Settings
from hcrm_core.models import Role
from hcrm_core.services.users import create_user
from tests.integration.callcenter.calls.test_tracker_asterisk import (
    Recorder,
    ami_settings,
    runtime_settings,
)
from tests.support.asterisk_sandbox import AsteriskSandboxHandle

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
async def running_desk(settings: Settings) -> AsyncIterator[tuple[Runtime, Recorder]]:
    """The server up and resynced with Asterisk; its signed-in agents signed out at the end."""
    runtime = await start_runtime(settings)
    recorder = Recorder(runtime.bus)
    try:
        await runtime.ami.wait_ready(WAIT)
        await recorder.wait_for(AmiResynced)
        yield runtime, recorder
    finally:
        for status in runtime.desk.agents.agents():
            await runtime.desk.agents.sign_out(status.username)
        await stop_runtime(runtime)


async def quietest_queue(runtime: Runtime) -> str:
    """The queue with the fewest members of other test sessions (the sandbox is shared)."""
    counts = {q.name: 0 for q in const.QUEUES}
    for row in await runtime.ami.queue_status():
        if row.name == "QueueMember" and row.queue in counts:
            counts[row.queue] += 1
    return min(counts, key=lambda name: counts[name])


async def agent_user(runtime: Runtime, username: str = "alice") -> int:
    async with runtime.database.transaction() as session:
        user = await create_user(
            session, username=username, password="correct-horse-battery", role=Role.AGENT
        )
        return user.id


@contextlib.asynccontextmanager
async def patients_phone(
    box: AsteriskSandboxHandle,
) -> AsyncIterator[tuple[AmiBridge, EventBus]]:
    """The sandbox-only AMI user that plays the caller's keys on their leg of the call."""
    bus = EventBus()
    driver = AmiBridge(
        ami_settings(box, username=box.driver_username, secret=SecretStr(box.driver_secret)), bus
    )
    await driver.start()
    try:
        await driver.wait_ready(20)
        yield driver, bus
    finally:
        await driver.stop()
        await bus.close()


async def render_ivr_prompts(box: AsteriskSandboxHandle) -> None:
    """The IVR's fixed prompts in the sandbox's sounds (kept when already rendered)."""
    await asyncio.to_thread(
        build_prompts, prompts.CATALOGUE, sounds_language_dir(box.settings, sandbox=True)
    )
