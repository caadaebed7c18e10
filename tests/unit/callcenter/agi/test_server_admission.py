"""Who may open a FastAGI session: only ``agi.allowed_peers``, at most ``agi.max_sessions`` at
once, and only for a known route. Real sockets on 127.0.0.1; an allow-list without loopback
stands in for a foreign machine reaching the port."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging

import pytest
from pydantic import ValidationError

from callcenter.agi.channel import AgiChannel
from callcenter.agi.server import FastAgiServer, peer_allowed
from callcenter.settings import AgiSettings

CALLER = "+15550001234"
HEADERS = (
    b"agi_network: yes\nagi_network_script: %s\nagi_channel: PJSIP/trunk-0001\n"
    b"agi_uniqueid: 1700000000.1\nagi_callerid: " + CALLER.encode() + b"\n\n"
)
WAIT = 5.0


class Dialog:
    """Counts the sessions it serves; each runs until the test releases it."""

    def __init__(self) -> None:
        self.started = 0
        self.running = asyncio.Event()
        self.release = asyncio.Event()

    async def __call__(self, agi: AgiChannel) -> None:
        self.started += 1
        self.running.set()
        await self.release.wait()


async def _serve(dialog: Dialog, **settings: object) -> FastAgiServer:
    server = FastAgiServer(
        AgiSettings(port=0, command_timeout=2.0, drain_seconds=0, **settings),  # type: ignore[arg-type]
        {"ivr": dialog},
    )
    await server.start()
    return server


Peer = tuple[asyncio.StreamReader, asyncio.StreamWriter]


async def _open(server: FastAgiServer, script: bytes = b"ivr") -> Peer:
    """An Asterisk peer that sent its header block."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(HEADERS % script)
    await writer.drain()
    return reader, writer


async def _answer_linkedid(peer: Peer) -> None:
    """Answer the Linkedid question every admitted session asks first."""
    reader, writer = peer
    line = await asyncio.wait_for(reader.readline(), WAIT)
    assert line.startswith(b"GET VARIABLE")
    writer.write(b"200 result=1 (1700000000.0)\n")
    await writer.drain()


async def _closed_without_a_command(peer: Peer) -> None:
    # The server closes: no AGI command was sent, EOF (or a reset) is all the peer sees.
    reader, writer = peer
    with contextlib.suppress(ConnectionResetError):
        assert await asyncio.wait_for(reader.read(), WAIT) == b""
    writer.close()


async def test_a_peer_outside_the_allow_list_is_closed_at_once_and_logged_without_caller_data(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="callcenter.agi.server")
    dialog = Dialog()
    server = await _serve(dialog, allowed_peers=["192.0.2.0/24"])
    try:
        await _closed_without_a_command(await _open(server))
    finally:
        await server.stop()
    assert dialog.started == 0
    assert server.health()["refused_peer"] == 1
    refused = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert refused == ["FastAGI connection from 127.0.0.1 refused: not in agi.allowed_peers"]
    assert not any(CALLER in r.getMessage() for r in caplog.records)


async def test_loopback_is_allowed_by_default() -> None:
    dialog = Dialog()
    server = await _serve(dialog)
    try:
        await _answer_linkedid(await _open(server))
        await asyncio.wait_for(dialog.running.wait(), WAIT)
    finally:
        dialog.release.set()
        await server.stop()
    assert dialog.started == 1
    assert server.health()["refused_peer"] == 0


async def test_past_max_sessions_a_new_session_is_refused_and_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="callcenter.agi.server")
    dialog = Dialog()
    server = await _serve(dialog, max_sessions=1)
    try:
        first = await _open(server)
        await _answer_linkedid(first)
        await asyncio.wait_for(dialog.running.wait(), WAIT)
        await _closed_without_a_command(await _open(server))
        assert server.health()["refused_busy"] == 1
        dialog.release.set()
        # Room again once the first session ended.
        await asyncio.wait_for(first[0].read(), WAIT)
        async with asyncio.timeout(WAIT):
            while server.health()["active_sessions"]:  # noqa: ASYNC110 - bounded poll
                await asyncio.sleep(0.01)
        await _answer_linkedid(await _open(server))
        async with asyncio.timeout(WAIT):
            while dialog.started < 2:  # noqa: ASYNC110 - bounded poll
                await asyncio.sleep(0.01)
    finally:
        dialog.release.set()
        await server.stop()
    assert any("agi.max_sessions" in m for m in caplog.messages)


async def test_an_unknown_route_is_refused_without_a_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="callcenter.agi.server")
    dialog = Dialog()
    server = await _serve(dialog)
    try:
        await _closed_without_a_command(await _open(server, b"admin/../ivr?x=1"))
    finally:
        await server.stop()
    assert dialog.started == 0
    assert server.health()["refused_route"] == 1
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert any("unknown route 'admin/../ivr' refused" in m for m in caplog.messages)


@pytest.mark.parametrize(
    ("peer", "allowed"),
    [
        (("127.0.0.1", 40000), True),
        (("127.8.9.10", 40000), True),
        (("::1", 40000, 0, 0), True),
        (("::ffff:127.0.0.1", 40000, 0, 0), True),
        (("10.0.0.5", 40000), False),
        (("::ffff:10.0.0.5", 40000, 0, 0), False),
        (("2001:db8::1", 40000, 0, 0), False),
        (None, False),
        ("/run/agi.sock", False),
    ],
)
def test_peer_allowed_by_default_is_loopback_only(peer: object, allowed: bool) -> None:
    networks = [ipaddress.ip_network(n) for n in AgiSettings().allowed_peers]
    assert peer_allowed(peer, networks) is allowed


def test_allowed_peers_and_max_sessions_are_validated() -> None:
    assert AgiSettings().allowed_peers == ["127.0.0.0/8", "::1"]
    assert AgiSettings(allowed_peers=["10.0.0.5", "10.1.0.0/16"]).max_sessions == 200
    with pytest.raises(ValidationError, match="not an address or network"):
        AgiSettings(allowed_peers=["asterisk.example"])
    with pytest.raises(ValidationError, match="allowed_peers"):
        AgiSettings(allowed_peers=[])
    with pytest.raises(ValidationError, match="max_sessions"):
        AgiSettings(max_sessions=0)
