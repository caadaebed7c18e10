"""A graceful stop of the FastAGI server against the real Asterisk: the dialog in progress
finishes (it is still answered after the stop began), a call arriving meanwhile is refused and
takes the dialplan's fallback, and a dialog that outlasts ``drain_seconds`` is cut and logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select

from callcenter.agi.channel import AgiChannel
from callcenter.agi.prompt_audio import build_prompts, sounds_language_dir
from callcenter.agi.server import FastAgiServer, Flow
from callcenter.ami.bridge import AmiBridge, AmiResynced
from callcenter.ami.events import AmiEvent
from callcenter.asterisk import const
from callcenter.calls.state import IvrProgress
from callcenter.ivr import prompts
from callcenter.ivr.build_prompts import language_prompts
from callcenter.server.root import start_server
from callcenter.settings import AgiSettings
from hcrm_core.db import Database
from hcrm_core.models import Call
from tests.support.asterisk_sandbox import AsteriskSandboxHandle
from tests.support.caller import PatientsPhone
from tests.support.rig import (
    Recorder,
    runtime_settings,
)

pytestmark = pytest.mark.asterisk
WAIT = 30.0


@dataclass
class Sandbox:
    """The patients' phone (the driver AMI session, it also sees AGI commands) and its events."""

    phone: PatientsPhone

    @property
    def ami(self) -> AmiBridge:
        return self.phone.ami

    @property
    def recorder(self) -> Recorder:
        return self.phone.recorder

    async def call(self, agi_port: int, *, hold: int = 60) -> str:
        """A patient calling the inbound IVR served on ``agi_port``; returns the Linkedid."""
        linkedid = f"drain-{uuid.uuid4().hex[:12]}"
        await self.ami.originate(
            f"Local/s@{const.CONTEXT_SIM_PATIENT}",
            context=const.CONTEXT_INBOUND,
            exten="s",
            channel_id=linkedid,  # the ;1 half (the one running AGI) has it as its Uniqueid
            variables={"SIM_HOLD": str(hold), "CALLCENTER_AGI": f"agi://127.0.0.1:{agi_port}"},
        )
        return linkedid

    async def agi_command(self, linkedid: str, prefix: str) -> AmiEvent:
        """Wait until Asterisk runs an AGI command starting with ``prefix`` on the call."""
        (event, *_) = await self.recorder.wait_for(
            AmiEvent,
            lambda e: (
                e.name == "AGIExecStart"
                and e.uniqueid == linkedid
                and e.get("Command").startswith(prefix)
            ),
        )
        return event

    async def hangup(self, linkedid: str) -> AmiEvent:
        """The ``Hangup`` of the call's IVR half: its Context says where the dialplan was."""
        (event,) = await self.recorder.wait_for(
            AmiEvent, lambda e: e.name == "Hangup" and e.uniqueid == linkedid
        )
        return event


@pytest.fixture
async def sandbox(patients_phone: PatientsPhone) -> Sandbox:
    await patients_phone.recorder.wait_for(AmiResynced)
    return Sandbox(patients_phone)


@contextlib.asynccontextmanager
async def serving(flow: Flow, drain_seconds: float) -> AsyncIterator[FastAgiServer]:
    server = FastAgiServer(
        AgiSettings(port=0, drain_seconds=drain_seconds), {const.AGI_ROUTE_IVR: flow}
    )
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def _stopped_listening(server: FastAgiServer) -> None:
    async with asyncio.timeout(5):
        while server.health()["listening"]:  # noqa: ASYNC110 - bounded poll
            await asyncio.sleep(0.01)


async def test_dialog_in_progress_finishes_and_a_new_call_takes_the_fallback(
    sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="callcenter.agi.server")
    served: list[str] = []
    finished: asyncio.Queue[tuple[str | None, str | None]] = asyncio.Queue()

    async def flow(agi: AgiChannel) -> None:
        served.append(agi.linkedid)
        await agi.answer()
        key = await agi.get_data("beep", timeout_ms=20_000, max_digits=1)
        # Steps after the stop began: the session still talks to Asterisk.
        await agi.set_variable("CC_DRAIN_STEP", "finished")
        await finished.put((key, await agi.get_variable("CC_DRAIN_STEP")))

    async with serving(flow, drain_seconds=20) as server:
        port = server.port
        first = await sandbox.call(port)
        waiting = await sandbox.agi_command(first, "GET DATA")
        stopping = asyncio.create_task(server.stop())
        await _stopped_listening(server)
        assert not stopping.done()  # draining the call in progress

        # A call arriving now: Asterisk cannot reach the FastAGI server (AGISTATUS=FAILURE)
        # and the dialplan sends the patient to the fallback queue; no dialog serves it.
        second = await sandbox.call(port, hold=5)
        refused = await sandbox.hangup(second)
        assert refused.get("Context") == const.CONTEXT_QUEUES
        assert second not in served

        # The first patient presses a key only now: the dialog reads it and runs to its end.
        await sandbox.phone.press(waiting, "7")
        key, step = await asyncio.wait_for(finished.get(), WAIT)
        await asyncio.wait_for(stopping, WAIT)
        served_hangup = await sandbox.hangup(first)

    assert (key, step) == ("7", "finished")
    # After AGI() returned normally the IVR half ended in the inbound context, not the fallback.
    assert served_hangup.get("Context") == const.CONTEXT_INBOUND
    assert served == [first]
    assert (server.sessions_drained, server.sessions_cut, server.sessions_failed) == (1, 0, 0)
    assert "FastAGI stopped: 1 session(s) drained, 0 cut" in caplog.messages


async def test_dialog_outlasting_the_drain_is_cut_and_logged(
    sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    cancelled = asyncio.Event()

    async def flow(agi: AgiChannel) -> None:
        await agi.answer()
        try:
            await agi.get_data("beep", timeout_ms=60_000, max_digits=1)  # no key ever comes
        except asyncio.CancelledError:
            cancelled.set()
            raise

    async with serving(flow, drain_seconds=1.5) as server:
        call = await sandbox.call(server.port)
        await sandbox.agi_command(call, "GET DATA")
        started = time.monotonic()
        await asyncio.wait_for(server.stop(), WAIT)
        took = time.monotonic() - started

    assert cancelled.is_set()
    assert 1.5 <= took < 10
    assert (server.sessions_drained, server.sessions_cut) == (0, 1)
    assert "FastAGI stopped: 0 session(s) drained, 1 cut" in caplog.messages
    cut = [r for r in caplog.records if "cut by the stop" in r.getMessage()]
    assert len(cut) == 1 and call in cut[0].getMessage()  # the log line carries the call
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    # Asterisk sees the socket close in the middle of GET DATA: AGI() returns without
    # AGISTATUS=FAILURE, so the dialplan goes on past the fallback to its Hangup() (observed
    # on Asterisk 22): a cut caller is hung up, as before the drain existed.
    hangup = await sandbox.hangup(call)
    assert (hangup.get("Context"), hangup.get("Exten")) == (const.CONTEXT_INBOUND, "s")


async def test_serve_stop_keeps_the_call_log_up_while_the_ivr_drains(
    asterisk_sandbox: AsteriskSandboxHandle, sandbox: Sandbox, tmp_path: Path
) -> None:
    # The language menu must exist in the sandbox's sounds for the IVR to wait on it.
    for language in prompts.LANGUAGES:
        out_dir = sounds_language_dir(asterisk_sandbox.settings, sandbox=True, language=language)
        await asyncio.to_thread(build_prompts, language_prompts(language), out_dir)
    settings = runtime_settings(asterisk_sandbox, tmp_path).model_copy(
        update={"agi": AgiSettings(port=0, drain_seconds=20)}
    )
    server = await start_server(settings, serve_console=False)
    stopping: asyncio.Task[None] | None = None
    try:
        recorder = Recorder(server.bus)
        await server.ami.wait_ready(WAIT)
        call = await sandbox.call(server.agi.port)
        # A caller without caller ID is asked for a language first (the real IVR route).
        waiting = await sandbox.agi_command(call, "GET DATA")
        stopping = asyncio.create_task(server.stop())
        await _stopped_listening(server.agi)
        assert not stopping.done()
        assert server.ami.health()["connected"]

        # The patient chooses English after the stop began; the IVR goes on and its steps
        # reach the call log, then the patient hangs up and the drain ends.
        await sandbox.phone.press(waiting, "1")
        await recorder.wait_for(
            IvrProgress, lambda p: p.linkedid == call and p.step == "language-set"
        )
        assert server.ami.health()["connected"]
        await sandbox.ami.send_action({"Action": "Hangup", "Channel": waiting.channel[:-1] + "2"})
        await asyncio.wait_for(stopping, WAIT)
    finally:
        if stopping is None:
            await server.stop()
    assert (server.agi.sessions_drained, server.agi.sessions_cut) == (1, 0)
    database = Database(settings.database_url)
    try:
        async with database.session() as session:
            row = (await session.scalars(select(Call).where(Call.linkedid == call))).one()
    finally:
        await database.dispose()
    assert row.ivr_context.get("language") == "en"  # written by the log during the drain
