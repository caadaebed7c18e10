"""Start-up of the whole server: a part that fails to start leaves nothing running."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import aiohttp
import pytest
from pydantic import SecretStr

from callcenter.server.root import start_server
from callcenter.settings import AgiSettings, AmiSettings, Settings, SpeechSettings


def _unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _settings(tmp_path: Path, **changes: object) -> Settings:
    # AMI at a closed port: the bridge keeps retrying in the background, as without a PBX.
    base = Settings(
        data_dir=tmp_path,
        ami=AmiSettings(port=_unused_port(), secret=SecretStr("x"), reconnect_max=0.5),
        agi=AgiSettings(port=0),
    )
    return base.model_copy(update=changes)


def _other_tasks() -> set[asyncio.Task[object]]:
    return {task for task in asyncio.all_tasks() if task is not asyncio.current_task()}


async def test_a_bad_speech_model_stops_what_had_started(tmp_path: Path) -> None:
    before = _other_tasks()
    settings = _settings(
        tmp_path, speech=SpeechSettings(enabled=True, model_dir=tmp_path / "no-such-model")
    )
    with pytest.raises(Exception, match="no-such-model"):
        await start_server(settings, serve_console=False)
    await asyncio.sleep(0)
    # The AMI bridge's reconnect loop, the call log writer, the tracker's and the desk's
    # subscribers, the recordings and the dialer: all stopped again.
    assert _other_tasks() - before == set()


async def test_the_fastagi_port_taken_stops_what_had_started(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        before = _other_tasks()
        with pytest.raises(OSError):
            await start_server(_settings(tmp_path, agi=AgiSettings(port=port)), serve_console=False)
        await asyncio.sleep(0)
        assert _other_tasks() - before == set()
    # And the same settings with a free port start and stop cleanly.
    server = await start_server(_settings(tmp_path), serve_console=False)
    await server.stop()


async def test_parts_start_in_order_and_the_console_is_served_last(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        web_port = probe.getsockname()[1]
    settings = _settings(tmp_path)
    settings = settings.model_copy(
        update={"web": settings.web.model_copy(update={"host": "127.0.0.1", "port": web_port})}
    )
    server = await start_server(settings)
    try:
        assert server.lifecycle.parts == (
            "database",
            "bus",
            "call log",
            "tracker",
            "slot horizon",
            "agent desk",
            "board",
            "recordings",
            "monitoring",
            "outbound events",
            "callback events",
            "event relay",
            "AMI bridge",
            "IVR speech",
            "FastAGI",
            "leadership",
            "web console",
        )
        url = f"http://127.0.0.1:{web_port}/healthz"
        async with aiohttp.ClientSession() as client, client.get(url) as response:
            body = await response.json()
        assert body["parts"]["agi"] == "ok"
        # SQLite: the only process leads (dials, places callbacks, runs the nightly jobs).
        assert body["cluster"] == {"leader": True, "epoch": None}
        assert server.leadership is not None
        assert server.leadership.health()["parts"] == [
            "dialing",
            "callback placing",
            "leader resync",
            "nightly slot horizon",
        ]
    finally:
        await server.stop()
    assert server.lifecycle.parts == ()
    assert not server.agi.health()["listening"]
