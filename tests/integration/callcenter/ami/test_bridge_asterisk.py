"""The AMI bridge against the real Asterisk sandbox (``-p tests.support.asterisk_sandbox``, root).

Calls are made without SIP: an Originate of ``Local/s@sim-listener`` gives a call whose far end
is dialplan, and the simulation contexts raise UserEvents as checkpoints to wait on.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

import pytest
from pydantic import SecretStr

from callcenter.ami.bridge import (
    AmiBridge,
    AmiConnectionChanged,
    AmiEvent,
    AmiResynced,
    ConnectionState,
)
from callcenter.ami.protocol import parse_stream
from callcenter.asterisk import const
from callcenter.bus import EventBus
from callcenter.settings import AmiSettings
from tests.support.paths import AMI_FIXTURES

pytestmark = pytest.mark.asterisk

T = TypeVar("T")
WAIT = 10.0
FIXTURES = AMI_FIXTURES
# Set to 1 to (re)write tests/fixtures/ami/*.ami from the sandbox.
RECORD_ENV = "CALLCENTER_TEST_RECORD_AMI"


class Recorder:
    """Every bus event, with a way to wait for one matching a condition."""

    def __init__(self, bus: EventBus) -> None:
        self.events: list[object] = []
        self._changed = asyncio.Condition()
        bus.subscribe(object, self._record, name="test-recorder")

    async def _record(self, item: object) -> None:
        async with self._changed:
            self.events.append(item)
            self._changed.notify_all()

    async def wait_for(self, kind: type[T], predicate: Callable[[T], bool] = lambda _: True) -> T:
        def match() -> T | None:
            return next(
                (i for i in self.events if isinstance(i, kind) and predicate(i)),
                None,
            )

        async with asyncio.timeout(WAIT), self._changed:
            await self._changed.wait_for(lambda: match() is not None)
        found = match()
        assert found is not None
        self.events.remove(found)
        return found

    def clear(self) -> None:
        self.events.clear()


def bridge_settings(sandbox: Any, **overrides: Any) -> AmiSettings:
    values = {
        "reconnect_min": 0.2,
        "reconnect_max": 1.0,
        "ping_interval": 2.0,
        "action_timeout": 5.0,
        **overrides,
    }
    settings: AmiSettings = sandbox.settings.ami.model_copy(update=values)
    return settings


@pytest.fixture
async def bus() -> AsyncIterator[EventBus]:
    bus = EventBus()
    yield bus
    await bus.close()


@pytest.fixture
async def recorder(bus: EventBus) -> Recorder:
    return Recorder(bus)


@pytest.fixture
async def bridge(asterisk_sandbox: Any, bus: EventBus) -> AsyncIterator[AmiBridge]:
    bridge = AmiBridge(bridge_settings(asterisk_sandbox), bus)
    await bridge.start()
    yield bridge
    await bridge.stop()


async def originate_listener(bridge: AmiBridge, recorder: Recorder, hold: int = 30) -> str:
    """A live Local call whose far end answers and listens; returns the ;1 half's Uniqueid."""
    channel_id = f"ami-test-{uuid.uuid4().hex[:12]}"
    await bridge.originate(
        f"Local/s@{const.CONTEXT_SIM_LISTENER}",
        application="Wait",
        data=str(hold),
        channel_id=channel_id,
        variables={"SIM_HOLD": str(hold)},
    )
    await recorder.wait_for(
        AmiEvent,
        lambda e: e.name == "UserEvent" and e.get("UserEvent") == "SimListener",
    )
    return channel_id


async def hang_up(bridge: AmiBridge, channel_id: str) -> None:
    for channel in await bridge.core_show_channels():
        if channel.linkedid == channel_id:
            await bridge.send_action({"Action": "Hangup", "Channel": channel.channel})
            return


async def test_login_receives_fully_booted(bridge: AmiBridge, recorder: Recorder) -> None:
    booted = await recorder.wait_for(AmiEvent, lambda e: e.name == "FullyBooted")
    assert booted.get("Status") == "Fully Booted"
    await bridge.wait_ready(WAIT)
    health = bridge.health()
    assert health["state"] == "connected" and health["asterisk_ready"]
    assert health["asterisk_version"]
    assert (await bridge.ping()).headers.get("Ping") == "Pong"


async def test_resync_returns_the_live_local_call(
    asterisk_sandbox: Any, bridge: AmiBridge, recorder: Recorder, bus: EventBus
) -> None:
    await bridge.wait_ready(WAIT)
    channel_id = await originate_listener(bridge, recorder)
    try:
        snapshot = await bridge.resync()
        call = snapshot.channels_by_linkedid()[channel_id]
        assert {c.uniqueid for c in call} >= {channel_id}
        assert all(c.channel.startswith(f"Local/s@{const.CONTEXT_SIM_LISTENER}") for c in call)
        assert len(call) == 2  # both halves of the Local pair share the Linkedid

        # A second server process logging in now gets the same call in its automatic resync.
        other = AmiBridge(bridge_settings(asterisk_sandbox), bus)
        await other.start()
        try:
            resynced = await recorder.wait_for(
                AmiResynced, lambda r: channel_id in r.snapshot.channels_by_linkedid()
            )
            assert resynced.snapshot.taken_at > 0
        finally:
            await other.stop()
    finally:
        await hang_up(bridge, channel_id)


async def test_wrong_password_gives_auth_failed_and_retries(
    asterisk_sandbox: Any, bus: EventBus, recorder: Recorder
) -> None:
    settings = bridge_settings(
        asterisk_sandbox, secret=SecretStr("wrong-" + uuid.uuid4().hex), reconnect_max=0.4
    )
    bridge = AmiBridge(settings, bus)
    await bridge.start()
    try:
        failed = await recorder.wait_for(
            AmiConnectionChanged, lambda c: c.state is ConnectionState.AUTH_FAILED
        )
        assert "Authentication failed" in (failed.last_error or "")
        async with asyncio.timeout(WAIT):
            while bridge.counters.auth_failures < 3:  # noqa: ASYNC110 - retries publish nothing
                await asyncio.sleep(0.05)
        assert bridge.connection_state is ConnectionState.AUTH_FAILED
    finally:
        await bridge.stop()


async def test_record_a_queue_call_fixture(
    bridge: AmiBridge, recorder: Recorder, asterisk_sandbox: Any, bus: EventBus
) -> None:
    """Raw AMI bytes of one queued call answered by a simulated agent, for tracker tests."""
    chunks: list[bytes] = []
    recording = AmiBridge(bridge_settings(asterisk_sandbox), bus, tap=chunks.append)
    await recording.start()
    await bridge.wait_ready(WAIT)
    await recording.wait_ready(WAIT)
    queue = const.QUEUES[0].name
    member = f"Local/1001@{const.CONTEXT_SIM_AGENTS}"
    await bridge.send_action({"Action": "QueueAdd", "Queue": queue, "Interface": member})
    channel_id = f"fixture-{uuid.uuid4().hex[:8]}"
    try:
        await bridge.originate(
            f"Local/s@{const.CONTEXT_SIM_PATIENT}",
            context=const.CONTEXT_QUEUES,
            exten=queue,
            caller_id='"王芳" <13800138000>',
            channel_id=channel_id,
            variables={"SIM_HOLD": "3", "SIM_AGENT_RING": "1", "SIM_AGENT_TALK": "1"},
        )
        await recorder.wait_for(AmiEvent, lambda e: e.name == "AgentComplete")
        await recorder.wait_for(AmiEvent, lambda e: e.name == "Hangup" and e.uniqueid == channel_id)
        # Its answer follows every event Asterisk queued for this session before it.
        await recording.ping()
    finally:
        await bridge.send_action({"Action": "QueueRemove", "Queue": queue, "Interface": member})
        await recording.stop()
    data = b"".join(chunks)
    names = [e.name for e in parse_stream(data)]
    for expected in ("Newchannel", "QueueCallerJoin", "AgentCalled", "AgentConnect", "Hangup"):
        assert expected in names, expected
    assert "王芳" in data.decode()
    if os.environ.get(RECORD_ENV) == "1":
        FIXTURES.mkdir(parents=True, exist_ok=True)
        (FIXTURES / "queue_call_answered.ami").write_bytes(data)


@pytest.mark.parametrize("how", ["stop", "kill9"])
async def test_asterisk_restart_reconnects_within_5s_and_resyncs(
    how: str, asterisk_sandbox: Any, bridge: AmiBridge, recorder: Recorder
) -> None:
    await bridge.wait_ready(WAIT)
    await recorder.wait_for(AmiResynced)
    recorder.clear()
    try:
        await asyncio.to_thread(getattr(asterisk_sandbox, how))
        # A clean stop sends Shutdown first (ready drops while still connected), a crash not.
        lost = await recorder.wait_for(
            AmiConnectionChanged, lambda c: c.state is not ConnectionState.CONNECTED
        )
        assert not lost.asterisk_ready
    finally:
        await asyncio.to_thread(asterisk_sandbox.start)
    back_at = time.monotonic()
    await recorder.wait_for(AmiResynced)
    assert time.monotonic() - back_at < 5.0
    assert bridge.asterisk_ready and bridge.counters.connects >= 2
