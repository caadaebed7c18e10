"""Stopping the FastAGI server: no new session once the stop began, sessions in progress get
``drain_seconds``, the rest are cut. A scripted Asterisk peer on a real socket; the same
against the real Asterisk is tests/integration/callcenter/ivr/test_agi_drain_asterisk.py.
"""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
from pydantic import ValidationError

from callcenter.agi.channel import AgiChannel
from callcenter.agi.server import FastAgiServer
from callcenter.settings import AgiSettings

HEADERS = (
    b"agi_network: yes\nagi_network_script: test\nagi_channel: Local/s@x-0001;1\n"
    b"agi_uniqueid: 1700000000.1\n\n"
)


class Dialog:
    """A dialog that runs until the test releases it, noting how it ended."""

    def __init__(self) -> None:
        self.running = asyncio.Event()
        self.release = asyncio.Event()
        self.ended = ""

    async def __call__(self, agi: AgiChannel) -> None:
        self.running.set()
        try:
            await self.release.wait()
        except asyncio.CancelledError:
            self.ended = "cut"
            raise
        self.ended = "finished"


async def _serve(dialog: Dialog, drain_seconds: float) -> FastAgiServer:
    server = FastAgiServer(
        AgiSettings(port=0, command_timeout=2.0, drain_seconds=drain_seconds), {"test": dialog}
    )
    await server.start()
    return server


async def _call(server: FastAgiServer) -> asyncio.StreamWriter:
    """An Asterisk peer: headers, then the Linkedid every session asks for first."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(HEADERS)
    await reader.readline()
    writer.write(b"200 result=1 (1700000000.0)\n")
    await writer.drain()
    return writer


async def test_a_session_in_progress_finishes_and_new_ones_are_refused():
    dialog = Dialog()
    server = await _serve(dialog, drain_seconds=10)
    port = server.port
    peer = await _call(server)
    await asyncio.wait_for(dialog.running.wait(), 5)
    stopping = asyncio.create_task(server.stop())
    await asyncio.sleep(0.05)
    assert not stopping.done()
    # Asterisk's next AGI() cannot connect (AGISTATUS=FAILURE: the dialplan's fallback).
    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_connection("127.0.0.1", port)
    dialog.release.set()
    await asyncio.wait_for(stopping, 5)
    peer.close()
    assert dialog.ended == "finished"
    assert (server.sessions_drained, server.sessions_cut) == (1, 0)


async def test_zero_drain_cuts_at_once():
    dialog = Dialog()
    server = await _serve(dialog, drain_seconds=0)
    peer = await _call(server)
    await asyncio.wait_for(dialog.running.wait(), 5)
    started = time.monotonic()
    await asyncio.wait_for(server.stop(), 5)
    peer.close()
    assert time.monotonic() - started < 1
    assert dialog.ended == "cut"
    assert (server.sessions_drained, server.sessions_cut) == (0, 1)


async def test_a_session_outlasting_the_drain_is_cut(caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.INFO)
    dialog = Dialog()
    server = await _serve(dialog, drain_seconds=0.2)
    peer = await _call(server)
    await asyncio.wait_for(dialog.running.wait(), 5)
    await asyncio.wait_for(server.stop(), 5)
    peer.close()
    assert dialog.ended == "cut"
    assert "FastAGI stopped: 0 session(s) drained, 1 cut" in caplog.messages
    assert any("1700000000.0" in m for m in caplog.messages if "cut by the stop" in m)
    # The cut is the server's own doing: nothing logged as an unhandled error.
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_stop_without_sessions_returns_at_once():
    server = await _serve(Dialog(), drain_seconds=30)
    started = time.monotonic()
    await server.stop()
    assert time.monotonic() - started < 1
    assert server.health()["listening"] is False


def test_drain_seconds_defaults_to_thirty_and_is_never_negative():
    assert AgiSettings().drain_seconds == 30
    with pytest.raises(ValidationError):
        AgiSettings(drain_seconds=-1)
