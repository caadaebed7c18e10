"""The call tracker on live calls in the real Asterisk sandbox (the sandbox plugin).

A real :class:`AmiBridge`, :class:`CallTracker` and :class:`CallLogWriter` run against the
sandbox; calls are made without SIP (``Local/...@sim-patient`` callers, ``Local/...@sim-agents``
queue members) and every check waits for a notice on the bus, never for a fixed time.

The silent-connection fault (the TCP link stays open, nothing answers) is proven in
``tests/unit/test_ami_bridge.py::test_ping_watchdog_drops_a_silent_connection_within_two_intervals``
and not repeated here.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from callcenter.agi.channel import AgiChannel
from callcenter.agi.errors import CallerHungUp
from callcenter.agi.server import FastAgiServer
from callcenter.ami.bridge import AmiBridge, AmiConnectionChanged, AmiResynced, ConnectionState
from callcenter.ami.events import AmiEvent
from callcenter.asterisk import const
from callcenter.asterisk.sandbox import SandboxError
from callcenter.bus import EventBus
from callcenter.calls.state import CallEnded, IvrProgress
from callcenter.server.root import Server, start_server
from callcenter.settings import AgiSettings
from hcrm_core.db import Database
from hcrm_core.models import Call, CallEvent
from tests.support.asterisk_sandbox import AsteriskSandboxHandle
from tests.support.rig import (
    QUEUE,
    WAIT,
    Recorder,
    Rig,
    agent_extension,
    ami_settings,
    open_rig,
    queue_member,
    runtime_settings,
)

pytestmark = pytest.mark.asterisk

SQLITE_ONLY = pytest.mark.parametrize("database", ["sqlite"], indirect=True)


@pytest.fixture
async def rig(database: Database, asterisk_sandbox: AsteriskSandboxHandle) -> AsyncIterator[Rig]:
    rig = await open_rig(database, asterisk_sandbox)
    bridge, recorder = rig.bridge, rig.recorder
    try:
        await bridge.wait_ready(WAIT)
        await recorder.wait_for(AmiResynced)
        yield rig
    finally:
        await rig.stop()


def kinds(notices: list[object]) -> list[str]:
    return [type(n).__name__ for n in notices]


async def test_answered_queue_call(rig: Rig) -> None:
    async with queue_member(rig.bridge, agent_extension(1)) as agent:
        linkedid = await rig.originate_caller(
            "s",
            context=const.CONTEXT_QUEUES,
            exten=QUEUE,
            # "__" makes the variables follow the call to the agent's channel.
            variables={"SIM_HOLD": "30", "__SIM_AGENT_RING": "1", "__SIM_AGENT_TALK": "2"},
        )
        ended = await rig.ended(linkedid)
    assert (ended.reason, ended.abandoned) == ("completed", False)
    call = await rig.row(linkedid)
    assert call.direction.value == "inbound"
    assert call.queue == QUEUE and call.queued_at is not None
    assert call.answered_at is not None and call.answered_at >= call.queued_at
    assert call.queue_wait_seconds is not None and 0.5 <= call.queue_wait_seconds < 5
    assert call.agent_interface == agent
    assert (call.end_reason, call.abandoned) == ("completed", False)
    assert call.ended_at is not None and call.ended_at >= call.answered_at
    assert kinds(rig.recorder.notices(linkedid)) == [
        "CallStarted",
        "CallQueued",
        "AgentRinging",
        "CallAnswered",
        "CallEnded",
    ]


@SQLITE_ONLY
async def test_caller_hanging_up_in_queue_is_abandoned(rig: Rig) -> None:
    delay = 4
    async with queue_member(rig.bridge, agent_extension(2)):  # rings, never answers
        linkedid = await rig.originate_caller(
            "hangup",
            context=const.CONTEXT_QUEUES,
            exten=QUEUE,
            variables={"SIM_DELAY": str(delay)},
        )
        ended = await rig.ended(linkedid)
    assert (ended.reason, ended.abandoned) == ("abandoned_in_queue", True)
    call = await rig.row(linkedid)
    assert call.direction.value == "inbound" and call.queue == QUEUE
    assert (call.end_reason, call.abandoned, call.answered_at) == ("abandoned_in_queue", True, None)
    assert call.queue_wait_seconds is not None
    assert abs(call.queue_wait_seconds - delay) < 1.5, call.queue_wait_seconds
    assert kinds(rig.recorder.notices(linkedid)) == [
        "CallStarted",
        "CallQueued",
        "AgentRinging",
        "CallEnded",
    ]


@SQLITE_ONLY
async def test_caller_hanging_up_in_the_ivr(rig: Rig) -> None:
    hung_up = asyncio.Event()

    async def menu(agi: AgiChannel) -> None:
        """A menu that waits for keys the caller never presses."""
        rig.bus.publish(IvrProgress(agi.linkedid, "main-menu"))
        await agi.answer()
        try:
            while True:
                await agi.get_data("beep", timeout_ms=3000, max_digits=1)
        except CallerHungUp:
            hung_up.set()
            raise

    server = FastAgiServer(AgiSettings(port=0), {const.AGI_ROUTE_IVR: menu})
    await server.start()
    try:
        linkedid = await rig.originate_caller(
            "hangup",
            context=const.CONTEXT_INBOUND,
            exten="s",
            # A channel variable wins over the dialplan global: this call's IVR is our server.
            variables={"SIM_DELAY": "3", "CALLCENTER_AGI": f"agi://127.0.0.1:{server.port}"},
        )
        ended = await rig.ended(linkedid)
        await asyncio.wait_for(hung_up.wait(), WAIT)
    finally:
        await server.stop()
    assert ended.reason == "caller_hung_up_in_ivr"
    call = await rig.row(linkedid)
    assert call.direction.value == "inbound"
    assert call.end_reason == "caller_hung_up_in_ivr" and call.abandoned is False
    assert call.ivr_entered_at is not None and call.ivr_last_step == "main-menu"
    assert call.ivr_left_at is not None and call.ivr_left_at >= call.ivr_entered_at
    assert call.queue is None and call.answered_at is None
    assert kinds(rig.recorder.notices(linkedid)) == ["CallStarted", "CallEnded"]


def _pwned(box: AsteriskSandboxHandle, marker: str) -> bool:
    return (box.sandbox.root / "tmp" / marker).exists() or (Path("/tmp") / marker).exists()


async def test_odd_caller_id_is_stored_as_data(
    rig: Rig, asterisk_sandbox: AsteriskSandboxHandle
) -> None:
    marker = f"pwned-{uuid.uuid4().hex[:8]}"
    cases = {
        "quotes": ('Evil \\"Quote\\" O\'Brien', "2125550142"),
        "expansion": (f"${{SHELL(touch /tmp/{marker})}}", "${SHELL(id)}"),
        "paths": ("../../etc/passwd", "../../x"),
        "long": ("A" * 300, "9" * 300),
        "mandarin": ("王秀英", "+8613812345678"),
    }
    # CR/LF would inject AMI headers or actions: refused before anything is sent.
    with pytest.raises(ValueError, match="line break"):
        await rig.originate_caller(
            "s",
            context=const.CONTEXT_SIM_LISTENER,
            exten="s",
            variables={"SIM_HOLD": "1"},
            caller_id='"x\r\nAction: Hangup" <1>',
        )
    linkedids = {
        case: await rig.originate_caller(
            "s",
            context=const.CONTEXT_SIM_LISTENER,
            exten="s",
            variables={"SIM_HOLD": "1"},
            caller_id=f'"{name}" <{number}>',
        )
        for case, (name, number) in cases.items()
    }
    for linkedid in linkedids.values():
        await rig.ended(linkedid)
    assert rig.bridge.connection_state is ConnectionState.CONNECTED
    rows = {case: await rig.row(linkedid) for case, linkedid in linkedids.items()}
    for case, call in rows.items():
        # Stored as Asterisk reported it on the caller's channel, clipped to the column.
        name, number = _caller_id_seen(rig.recorder, linkedids[case])
        assert call.caller_name == (name[:200] or None), case
        assert call.caller_number == (number[:80] or None), case
        assert call.end_reason == "hung_up", case
    # AMI events carry the name C-escaped; the log holds what the caller sent.
    assert rows["quotes"].caller_name == 'Evil "Quote" O\'Brien'
    assert rows["quotes"].caller_number == "2125550142"
    # Never expanded. (Asterisk itself strips "()" and "." from numbers.)
    assert rows["expansion"].caller_name == f"${{SHELL(touch /tmp/{marker})}}"
    assert rows["expansion"].caller_number == "${SHELLid}"
    assert (rows["paths"].caller_name, rows["paths"].caller_number) == ("../../etc/passwd", "//x")
    assert (rows["mandarin"].caller_name, rows["mandarin"].caller_number) == (
        "王秀英",
        "+8613812345678",
    )
    # Asterisk cuts an over-long CallerID header before parsing it (the number is lost).
    long_name = rows["long"].caller_name or ""
    assert 100 < len(long_name) <= 200 and set(long_name) <= {'"', "A"}
    assert not _pwned(asterisk_sandbox, marker)


def _caller_id_seen(recorder: Recorder, linkedid: str) -> tuple[str, str]:
    """The last caller ID Asterisk announced for the call's first channel (unescaped)."""
    name = number = ""
    for event in recorder.of(AmiEvent, lambda e: e.uniqueid == linkedid):
        name = event.caller_id_name.replace("<unknown>", "") or name
        number = event.caller_id_num.replace("<unknown>", "") or number
    return name, number


@SQLITE_ONLY
async def test_kill9_closes_live_calls_as_asterisk_unreachable(
    rig: Rig, asterisk_sandbox: AsteriskSandboxHandle
) -> None:
    linkedids = {
        await rig.originate_caller(
            "s", context=const.CONTEXT_SIM_LISTENER, exten="s", variables={"SIM_HOLD": "60"}
        )
        for _ in range(10)
    }
    await rig.recorder.wait_for(
        AmiEvent,
        lambda e: (
            e.name == "UserEvent"
            and e.get("UserEvent") == "SimListener"
            and e.linkedid in linkedids
        ),
        count=10,
    )
    for linkedid in linkedids:
        assert (await rig.row(linkedid)).ended_at is None
    resyncs = len(rig.recorder.of(AmiResynced))
    try:
        killed_at = time.time()
        await asyncio.to_thread(asterisk_sandbox.kill9)
        await rig.recorder.wait_for(
            AmiConnectionChanged, lambda c: c.state is not ConnectionState.CONNECTED
        )
    finally:
        # The sandbox is shared with every test session: it must be running again.
        await asyncio.to_thread(ensure_running, asterisk_sandbox)
    back_at = time.monotonic()
    await rig.recorder.wait_for(AmiResynced, count=resyncs + 1)
    reconnect_seconds = time.monotonic() - back_at
    print(f"AMI back and resynced {reconnect_seconds:.2f} s after Asterisk was up again")
    assert reconnect_seconds < 5.0

    ended = await rig.recorder.wait_for(CallEnded, lambda n: n.linkedid in linkedids, count=10)
    assert {n.reason for n in ended} == {"asterisk_unreachable"}
    assert len(ended) == 10
    await rig.writer.flush()
    uniqueids = {e.uniqueid for e in rig.recorder.of(AmiEvent, lambda e: e.linkedid in linkedids)}
    async with rig.database.session() as session:
        counted = await session.execute(
            select(Call.linkedid, func.count())
            .where(Call.linkedid.in_(uniqueids | linkedids))
            .group_by(Call.linkedid)
        )
        counts = {linkedid: count for linkedid, count in counted}
        rows = (await session.scalars(select(Call).where(Call.linkedid.in_(linkedids)))).all()
    assert counts == dict.fromkeys(linkedids, 1)  # one row per call, none per leg
    for call in rows:
        assert call.end_reason == "asterisk_unreachable"
        assert call.ended_at is not None
        assert call.started_at <= call.ended_at <= _utc(killed_at + 5)


def ensure_running(box: AsteriskSandboxHandle) -> None:
    """Start the sandbox again after a kill -9 (blocking; run it in a thread)."""
    for attempt in range(20):
        try:
            box.start()
            return
        except SandboxError:
            # SIGKILL turns the main thread into a zombie while the other threads still hold
            # the AMI socket for a moment, and start() refuses a taken port.
            if attempt == 19:
                raise
            time.sleep(0.25)


def _utc(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


async def test_call_ended_while_the_server_was_down_is_closed_as_server_restarted(
    asterisk_sandbox: AsteriskSandboxHandle, tmp_path: Path
) -> None:
    settings = runtime_settings(asterisk_sandbox, tmp_path)
    # An independent observer of the call, up before the server goes down.
    watch_bus = EventBus()
    watcher = Recorder(watch_bus)
    observer = AmiBridge(ami_settings(asterisk_sandbox), watch_bus)
    await observer.start()
    first: Server | None = await start_server(settings, serve_console=False)
    try:
        assert first is not None
        await observer.wait_ready(WAIT)
        recorder = Recorder(first.bus)
        await first.ami.wait_ready(WAIT)
        linkedid = f"cc-{uuid.uuid4().hex[:16]}"
        await first.ami.originate(
            f"Local/s@{const.CONTEXT_SIM_PATIENT}",
            context=const.CONTEXT_SIM_LISTENER,
            exten="s",
            channel_id=linkedid,
            variables={"SIM_HOLD": "4"},
        )
        await recorder.wait_for(
            AmiEvent, lambda e: e.linkedid == linkedid and e.get("UserEvent") == "SimListener"
        )
        # The crash: this server hears nothing more and goes away with the call open.
        await first.ami.stop()
        await first.stop()
        first = None
        await watcher.wait_for(AmiEvent, lambda e: e.name == "Hangup" and e.uniqueid == linkedid)

        second = await start_server(settings, serve_console=False)
        try:
            call = await _wait_closed(second, linkedid)
            async with second.database.session() as session:
                last_seen = await session.scalar(
                    select(func.max(CallEvent.received_at)).where(CallEvent.linkedid == linkedid)
                )
        finally:
            await second.stop()
    finally:
        if first is not None:
            await first.stop()
        await observer.stop()
        await watch_bus.close()
    assert call.end_reason == "server_restarted"
    assert call.ended_at == last_seen  # the last moment this server knew the call was up


async def _wait_closed(server: Server, linkedid: str) -> Call:
    """Poll the call log until the restarted server's first reconcile closed the call."""
    async with asyncio.timeout(WAIT):
        while True:
            await server.call_log.flush()
            async with server.database.session() as session:
                call = await session.scalar(select(Call).where(Call.linkedid == linkedid))
            if call is not None and call.ended_at is not None:
                return call
            await asyncio.sleep(0.1)
