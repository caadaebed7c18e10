"""A whole server runtime on the sandbox for agent-desk tests (`Local/<ext>@sim-agents` phones)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from callcenter.ami_events import AmiResynced
from callcenter.asterisk import const
from callcenter.server import Runtime, start_runtime, stop_runtime
from callcenter.settings import AgentsSettings, Settings
from hcrm_core.models import Role
from hcrm_core.services.users import create_user
from tests.asterisk_sandbox import AsteriskSandboxHandle
from tests.integration.callcenter.test_call_tracker_asterisk import Recorder, runtime_settings

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


async def agent_user(runtime: Runtime, username: str = "alice") -> int:
    async with runtime.database.transaction() as session:
        user = await create_user(
            session, username=username, password="correct-horse-battery", role=Role.AGENT
        )
        return user.id
