"""AGI quoting and the FastAGI server, against a scripted Asterisk peer on a real socket.

The real-Asterisk tests are in tests/integration/ivr; these cover the edges Asterisk would not
produce on demand (a peer closing mid-header, garbage replies).
"""

from __future__ import annotations

import asyncio

import pytest

from callcenter.agi.channel import AgiChannel, quote_arg, sound
from callcenter.agi.errors import CallerHungUp, UnsafeAgiValue
from callcenter.agi.server import FastAgiServer
from callcenter.settings import AgiSettings


@pytest.mark.parametrize(
    ("value", "quoted"),
    [
        ("plain", '"plain"'),
        ('say "hi"', r'"say \"hi\""'),
        ("back\\slash", r'"back\\slash"'),
        ("${SHELL(id)}", '"${SHELL(id)}"'),
        ("王秀英", '"王秀英"'),
    ],
)
def test_quote_arg_escapes(value, quoted):
    assert quote_arg(value) == quoted


@pytest.mark.parametrize("value", ["a\nHANGUP", "a\rb", "nul\x00", "x" * 2000])
def test_quote_arg_refuses_what_could_end_a_command(value):
    with pytest.raises(UnsafeAgiValue):
        quote_arg(value)


@pytest.mark.parametrize("name", ["../../etc/passwd", "a b", "", "x;y", "/abs", "a\nb"])
def test_sound_names_are_allowlisted(name):
    with pytest.raises(UnsafeAgiValue):
        sound(name)


HEADERS = (
    b"agi_network: yes\nagi_network_script: test\nagi_channel: Local/s@x-0001;1\n"
    b"agi_uniqueid: 1700000000.1\nagi_callerid: 2125550142\nagi_calleridname: \xe7\x8e\x8b\n\n"
)


async def _serve(flow, **kw):
    server = FastAgiServer(AgiSettings(port=0, command_timeout=2.0), {"test": flow}, **kw)
    await server.start()
    return server


async def test_dialog_runs_and_hangup_is_detected():
    seen: dict[str, object] = {}

    async def flow(agi: AgiChannel) -> None:
        seen["env"] = agi.env
        seen["linkedid"] = agi.linkedid
        await agi.answer()
        try:
            await agi.get_data("beep", timeout_ms=1000, max_digits=4)
        except CallerHungUp:
            seen["hung_up"] = True
            raise

    server = await _serve(flow)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(HEADERS)
        assert await reader.readline() == b"GET VARIABLE CHANNEL(linkedid)\n"
        writer.write(b"200 result=1 (1700000000.0)\n")
        assert await reader.readline() == b"ANSWER\n"
        writer.write(b"200 result=0\n")
        assert await reader.readline() == b"GET DATA beep 1000 4\n"
        writer.write(b"HANGUP\n")
        await writer.drain()
        assert await asyncio.wait_for(reader.read(), 5) == b""  # the server closed the session
        writer.close()
    finally:
        await server.stop()
    assert seen["hung_up"] is True
    assert seen["linkedid"] == "1700000000.0"
    assert seen["env"].caller_id_name == "王"


async def test_peer_closing_before_headers_does_not_spin():
    async def flow(agi: AgiChannel) -> None:
        raise AssertionError("no dialog without headers")

    server = await _serve(flow)
    try:
        _reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"agi_network: yes\n")
        await writer.drain()
        writer.close()
        await writer.wait_closed()
        async with asyncio.timeout(2):
            while server.health()["active_sessions"]:  # noqa: ASYNC110 - bounded poll
                await asyncio.sleep(0.01)
    finally:
        await server.stop()
    assert server.sessions_started == 0


async def test_unknown_route_and_crashing_dialog_release_the_call():
    async def crash(agi: AgiChannel) -> None:
        raise RuntimeError("bug")

    server = await _serve(crash)
    try:
        for script, expect_started in ((b"nope", 0), (b"test", 1)):
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(
                HEADERS.replace(b"agi_network_script: test", b"agi_network_script: " + script)
            )
            if script == b"test":
                await reader.readline()
                writer.write(b"200 result=0\n")
            assert await asyncio.wait_for(reader.read(), 5) == b""
            writer.close()
            assert server.sessions_started == expect_started
    finally:
        await server.stop()
    assert server.sessions_failed == 1
