"""The AMI bridge against a small in-process fake AMI server (no Asterisk needed).

The fake speaks the parts of AMI the bridge relies on, byte for byte as Asterisk 22 sends them:
banner, Login (success, or "Authentication failed" and the session is closed), Logoff, Ping,
CoreShowChannels and QueueStatus event lists, PlayDTMF ("DTMF successfully queued", no Async
header) and an async Originate followed by OriginateResponse.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import AsyncIterator, Callable
from typing import TypeVar

import pytest

from callcenter.ami.bridge import (
    AmiActionError,
    AmiBridge,
    AmiConnectionChanged,
    AmiEvent,
    AmiNotConnected,
    AmiResynced,
    AmiTimeout,
    AsteriskUnavailable,
    ConnectionState,
)
from callcenter.ami.connection import backoff_delay
from callcenter.bus import EventBus
from tests.support.fake_ami import FULLY_BOOTED, NAME, SECRET, FakeAmi, ami_settings, event

T = TypeVar("T")
WAIT = 3.0  # every wait on a condition gives up after this long


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
            for item in self.events:
                if isinstance(item, kind) and predicate(item):
                    return item
            return None

        async with asyncio.timeout(WAIT), self._changed:
            await self._changed.wait_for(lambda: match() is not None)
        found = match()
        assert found is not None
        self.events.remove(found)  # so the next wait finds the next occurrence
        return found

    def clear(self) -> None:
        self.events.clear()


@pytest.fixture
async def fake_ami() -> AsyncIterator[FakeAmi]:
    server = FakeAmi()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def bus() -> AsyncIterator[EventBus]:
    bus = EventBus()
    yield bus
    await bus.close()


@pytest.fixture
async def recorder(bus: EventBus) -> Recorder:
    return Recorder(bus)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def is_connected(change: AmiConnectionChanged) -> bool:
    return change.state is ConnectionState.CONNECTED


async def test_login_fully_booted_and_resync(
    fake_ami: FakeAmi, recorder: Recorder, bus: EventBus
) -> None:
    bridge = AmiBridge(ami_settings(fake_ami.port), bus)
    await bridge.start()
    try:
        await bridge.wait_ready(3)
        resynced = await recorder.wait_for(AmiResynced)
        booted = await recorder.wait_for(AmiEvent, lambda e: e.name == "FullyBooted")
        assert booted.get("Status") == "Fully Booted"
        snapshot = resynced.snapshot
        assert [c.channel for c in snapshot.channels] == [
            "Local/s@sim-patient-00000001;1",
            "Local/s@sim-patient-00000001;2",
        ]
        assert {c.caller_id_name for c in snapshot.channels} == {NAME}
        assert list(snapshot.channels_by_linkedid()) == ["1700000000.1"]
        assert [m.get("Location") for m in snapshot.queue_members] == ["Local/1001@agents"]
        assert [p.queue for p in snapshot.queue_params] == ["cardiology"]
        health = bridge.health()
        assert health["state"] == "connected" and health["asterisk_ready"] is True
        assert health["asterisk_version"] == "9.0.0"
        assert health["counters"]["resyncs"] == 1
    finally:
        await bridge.stop()
    assert fake_ami.logoffs == 1
    assert bridge.connection_state is ConnectionState.DISCONNECTED


async def test_reconnects_and_resyncs_after_server_closes(
    fake_ami: FakeAmi, recorder: Recorder, bus: EventBus
) -> None:
    bridge = AmiBridge(ami_settings(fake_ami.port), bus)
    await bridge.start()
    try:
        await recorder.wait_for(AmiResynced)
        fake_ami.drop_all()
        lost = await recorder.wait_for(
            AmiConnectionChanged, lambda c: c.state is ConnectionState.DISCONNECTED
        )
        assert not lost.asterisk_ready
        assert "connection lost" in (lost.last_error or "")
        await recorder.wait_for(AmiResynced)
        assert fake_ami.logins == 2
        assert bridge.counters.reconnects >= 1
        assert bridge.connection_state is ConnectionState.CONNECTED
    finally:
        await bridge.stop()


async def test_backoff_grows_and_is_capped(bus: EventBus) -> None:
    server = FakeAmi()
    server.accept_and_close = True  # accepts, then hangs up before the banner
    await server.start()
    bridge = AmiBridge(ami_settings(server.port, reconnect_min=0.04, reconnect_max=0.32), bus)
    await bridge.start()
    try:
        await server.wait_for(lambda: len(server.accepted_at) >= 7)
    finally:
        await bridge.stop()
        await server.stop()
    gaps = [b - a for a, b in zip(server.accepted_at, server.accepted_at[1:], strict=False)]
    # Attempt n waits uniform(cap/2, cap) with cap = min(0.32, 0.04 * 2**n).
    assert gaps[0] < 0.1
    assert all(gap >= 0.16 for gap in gaps[3:6]), gaps
    assert all(gap < 0.32 + 0.1 for gap in gaps), gaps


def test_backoff_delay_bounds() -> None:
    for attempt in range(40):
        cap = min(30.0, 0.5 * 2**attempt)
        for _ in range(20):
            assert cap / 2 <= backoff_delay(attempt, 0.5, 30.0) <= cap


async def test_wrong_password_gives_auth_failed_and_keeps_retrying(
    fake_ami: FakeAmi, recorder: Recorder, bus: EventBus, caplog: pytest.LogCaptureFixture
) -> None:
    fake_ami.secret = "the-right-one"
    bridge = AmiBridge(ami_settings(fake_ami.port), bus)
    with caplog.at_level(logging.DEBUG, logger="callcenter"):
        await bridge.start()
        try:
            failed = await recorder.wait_for(
                AmiConnectionChanged, lambda c: c.state is ConnectionState.AUTH_FAILED
            )
            assert "Authentication failed" in (failed.last_error or "")
            await fake_ami.wait_for(lambda: fake_ami.login_attempts >= 4)
            assert bridge.connection_state is ConnectionState.AUTH_FAILED
            assert bridge.health()["counters"]["auth_failures"] >= 3
            # The site fixes manager.conf: the next retry logs in.
            fake_ami.secret = SECRET
            await bridge.wait_connected(3)
        finally:
            await bridge.stop()
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1, [r.getMessage() for r in errors]  # once per state change
    assert "callcenter" in errors[0].getMessage()
    assert all(SECRET not in r.getMessage() for r in caplog.records)
    assert all("the-right-one" not in r.getMessage() for r in caplog.records)


async def test_unreachable_pbx_retries_with_one_warning(
    recorder: Recorder, bus: EventBus, caplog: pytest.LogCaptureFixture
) -> None:
    port = free_port()
    bridge = AmiBridge(ami_settings(port), bus)
    with caplog.at_level(logging.INFO, logger="callcenter"):
        await bridge.start()
        try:
            await recorder.wait_for(
                AmiConnectionChanged, lambda c: c.state is ConnectionState.DISCONNECTED
            )
            async with asyncio.timeout(WAIT):
                # A refused connect publishes nothing new while the state stays disconnected.
                while bridge.counters.connect_failures < 4:  # noqa: ASYNC110
                    await asyncio.sleep(0.01)
            assert bridge.connection_state is ConnectionState.DISCONNECTED
            assert "ConnectionRefusedError" in (bridge.last_error or "")
            # Asterisk comes up on that port: the bridge connects without being told.
            server = FakeAmi()
            server.port = port
            await server.start()
            try:
                await bridge.wait_ready(3)
            finally:
                await bridge.stop()
                await server.stop()
        finally:
            await bridge.stop()
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]


async def test_ping_watchdog_drops_a_silent_connection_within_two_intervals(
    fake_ami: FakeAmi, recorder: Recorder, bus: EventBus
) -> None:
    interval = 0.2
    bridge = AmiBridge(ami_settings(fake_ami.port, ping_interval=interval), bus)
    await bridge.start()
    try:
        await bridge.wait_connected(3)
        # Let the watchdog see at least one answered Ping first.
        await fake_ami.wait_for(
            lambda: any(a["Action"] == "Ping" for a in fake_ami.current.actions)
        )
        fake_ami.answer_pings = False  # the TCP connection stays open, nothing answers
        silent_since = time.monotonic()
        lost = await recorder.wait_for(
            AmiConnectionChanged, lambda c: c.state is ConnectionState.DISCONNECTED
        )
        elapsed = time.monotonic() - silent_since
        assert elapsed <= 2 * interval + 0.1, elapsed
        assert "Ping" in (lost.last_error or "")
        assert bridge.counters.watchdog_drops == 1
        fake_ami.answer_pings = True
        await bridge.wait_connected(3)
        assert fake_ami.logins == 2
    finally:
        await bridge.stop()


async def test_utf8_split_across_tcp_writes(
    fake_ami: FakeAmi, recorder: Recorder, bus: EventBus
) -> None:
    bridge = AmiBridge(ami_settings(fake_ami.port), bus)
    await bridge.start()
    try:
        await recorder.wait_for(AmiResynced)
        data = event("Newchannel", Channel="PJSIP/trunk-00000001", CallerIDName=NAME)
        cut = data.index(NAME.encode()) + 1
        writer = fake_ami.current.writer
        for part in (data[:cut], data[cut:]):
            writer.write(part)
            await writer.drain()
            await asyncio.sleep(0.02)  # separate reads on the bridge's side
        newchannel = await recorder.wait_for(AmiEvent, lambda e: e.name == "Newchannel")
        assert newchannel.caller_id_name == NAME
    finally:
        await bridge.stop()


async def test_play_dtmf_successfully_queued_keeps_the_connection(
    fake_ami: FakeAmi, bus: EventBus
) -> None:
    bridge = AmiBridge(ami_settings(fake_ami.port), bus)
    await bridge.start()
    try:
        await bridge.wait_ready(3)
        response = await bridge.play_dtmf("Local/s@sim-patient-00000001;2", "5")
        assert response.message == "DTMF successfully queued"
        assert (await bridge.ping()).ok
        assert len(fake_ami.sessions) == 1
        assert bridge.connection_state is ConnectionState.CONNECTED
    finally:
        await bridge.stop()


async def test_shutdown_blocks_originate_until_fully_booted(
    fake_ami: FakeAmi, recorder: Recorder, bus: EventBus
) -> None:
    bridge = AmiBridge(ami_settings(fake_ami.port), bus)
    await bridge.start()
    try:
        await recorder.wait_for(AmiResynced)
        recorder.clear()  # everything published before the snapshot was delivered already
        fake_ami.current.send(
            event("Shutdown", Privilege="system,all", Shutdown="Cleanly", Restart="True")
        )
        await recorder.wait_for(AmiConnectionChanged, lambda c: not c.asterisk_ready)
        with pytest.raises(AsteriskUnavailable) as refused:
            await bridge.originate("Local/s@sim-patient", context="ivr", exten="s")
        assert not isinstance(refused.value, AmiNotConnected)
        assert bridge.connection_state is ConnectionState.CONNECTED

        fake_ami.current.send(FULLY_BOOTED)
        await bridge.wait_ready(3)
        await recorder.wait_for(AmiResynced)  # a fresh snapshot after every FullyBooted
        response = await bridge.originate(
            "Local/s@sim-patient",
            context="ivr",
            exten="s",
            channel_id="attempt-42",
            variables={"PATIENT_LANG": "zh"},
        )
        originated = await recorder.wait_for(AmiEvent, lambda e: e.name == "OriginateResponse")
        assert originated.action_id == response.action_id
        assert originated.uniqueid == "attempt-42"
        sent = fake_ami.current.actions[-1]
        assert sent["Async"] == "true" and sent["Variable"] == "PATIENT_LANG=zh"
    finally:
        await bridge.stop()


async def test_actions_without_session_raise_not_connected(bus: EventBus) -> None:
    bridge = AmiBridge(ami_settings(free_port()), bus)
    with pytest.raises(AmiNotConnected):
        await bridge.ping()
    with pytest.raises(AsteriskUnavailable):
        await bridge.originate("Local/s@x", context="ivr", exten="s")


async def test_action_error_and_timeout_are_typed(fake_ami: FakeAmi, bus: EventBus) -> None:
    bridge = AmiBridge(ami_settings(fake_ami.port, action_timeout=0.2), bus)
    await bridge.start()
    try:
        await bridge.wait_connected(3)
        with pytest.raises(AmiActionError) as error:
            await bridge.send_action({"Action": "NoSuchThing"})
        assert error.value.message == "Invalid/unknown command"
        fake_ami.ignore_actions.add("getvar")
        with pytest.raises(AmiTimeout):
            await bridge.send_action({"Action": "GetVar", "Variable": "X"})
        assert (await bridge.ping()).ok  # the session survives both
        counters = bridge.counters
        assert counters.actions_failed >= 2 and counters.action_timeouts == 1
    finally:
        await bridge.stop()


async def test_slow_subscriber_does_not_stall_the_reader(
    fake_ami: FakeAmi, recorder: Recorder, bus: EventBus
) -> None:
    never = asyncio.Event()

    async def stuck(_: AmiEvent) -> None:
        await never.wait()

    bus.subscribe(AmiEvent, stuck, name="stuck", maxsize=5)
    bridge = AmiBridge(ami_settings(fake_ami.port), bus)
    await bridge.start()
    try:
        await bridge.wait_ready(3)
        for n in range(200):
            fake_ami.current.send(event("UserEvent", UserEvent="tick", N=str(n)))
        await recorder.wait_for(AmiEvent, lambda e: e.get("N") == "199")
        assert (await bridge.ping()).ok
        assert any(s.name == "stuck" and s.dropped > 0 for s in bus.stats())
    finally:
        never.set()
        await bridge.stop()


async def test_login_during_boot_logs_in_again_until_fully_booted(
    fake_ami: FakeAmi, recorder: Recorder, bus: EventBus
) -> None:
    # An AMI user without read=system never sees the FullyBooted sent at the end of boot.
    fake_ami.booted = False
    bridge = AmiBridge(ami_settings(fake_ami.port), bus, boot_wait=0.2)
    await bridge.start()
    try:
        await fake_ami.wait_for(lambda: fake_ami.logins >= 2)
        assert not bridge.asterisk_ready
        fake_ami.booted = True
        await bridge.wait_ready(WAIT)
        await recorder.wait_for(AmiResynced)
    finally:
        await bridge.stop()


async def test_without_read_system_assumes_booted_after_a_few_logins(
    fake_ami: FakeAmi, recorder: Recorder, bus: EventBus, caplog: pytest.LogCaptureFixture
) -> None:
    fake_ami.booted = False  # as for a user without read=system: FullyBooted never arrives
    bridge = AmiBridge(ami_settings(fake_ami.port), bus, boot_wait=0.1)
    with caplog.at_level(logging.WARNING, logger="callcenter.ami.bridge"):
        await bridge.start()
        try:
            await bridge.wait_ready(WAIT)
            await recorder.wait_for(AmiResynced)
        finally:
            await bridge.stop()
    assert fake_ami.logins == 3
    assert any("read=system" in r.getMessage() for r in caplog.records)
