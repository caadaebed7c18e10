"""Fixtures shared by the IVR tests against the sandbox."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from callcenter.ami.bridge import AmiBridge
from callcenter.bus import EventBus
from tests.support.asterisk_sandbox import AsteriskSandboxHandle


@pytest.fixture
async def ami(asterisk_sandbox: AsteriskSandboxHandle) -> AsyncIterator[AmiBridge]:
    """The server's AMI bridge on the sandbox, ready to originate."""
    bridge = AmiBridge(asterisk_sandbox.settings.ami, EventBus())
    await bridge.start()
    await bridge.wait_ready(20.0)
    yield bridge
    await bridge.stop()
