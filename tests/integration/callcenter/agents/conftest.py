"""Fixtures of the agent-desk tests against the real sandbox."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from callcenter.server.root import Server
from tests.support.asterisk_sandbox import AsteriskSandboxHandle
from tests.support.desk import agent_user, desk_settings, running_desk
from tests.support.rig import Recorder


@pytest.fixture
async def desk_server(
    asterisk_sandbox: AsteriskSandboxHandle, tmp_path: Path
) -> AsyncIterator[tuple[Server, Recorder, int]]:
    """The server on the sandbox with one agent user, ``alice`` (not signed in)."""
    async with running_desk(desk_settings(asterisk_sandbox, tmp_path)) as (server, recorder):
        yield server, recorder, await agent_user(server)
