"""Fixtures of the agent-desk tests against the real sandbox."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from callcenter.server.runtime import Runtime
from tests.asterisk_sandbox import AsteriskSandboxHandle
from tests.integration.agents.desk_support import agent_user, desk_settings, running_desk
from tests.integration.callcenter.test_call_tracker_asterisk import Recorder


@pytest.fixture
async def desk_runtime(
    asterisk_sandbox: AsteriskSandboxHandle, tmp_path: Path
) -> AsyncIterator[tuple[Runtime, Recorder, int]]:
    """The server on the sandbox with one agent user, ``alice`` (not signed in)."""
    async with running_desk(desk_settings(asterisk_sandbox, tmp_path)) as (runtime, recorder):
        yield runtime, recorder, await agent_user(runtime)
