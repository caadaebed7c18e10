"""The server starts on its embedded defaults and reports its parts honestly."""

from __future__ import annotations

import socket

import pytest

from callcenter.server.root import start_server
from callcenter.settings import Settings
from web_console.app import create_app


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
async def server(tmp_path):
    settings = Settings(
        data_dir=tmp_path,
        ami={
            "port": _closed_port(),
            "secret": "not-used",
            "reconnect_min": 0.05,
            "reconnect_max": 0.2,
        },
    )
    server = await start_server(settings, serve_console=False)
    yield server
    await server.stop()


async def test_healthz_is_degraded_without_asterisk_and_names_the_reason(server, aiohttp_client):
    client = await aiohttp_client(create_app(server.console_deps()))
    response = await client.get("/healthz")
    assert response.status == 200
    body = await response.json()
    assert body["status"] == "degraded"
    assert body["database"] == {"ok": True, "engine": "sqlite", "error": None}
    assert body["ami"]["connected"] is False
    assert body["agi"]["listening"] is True


async def test_healthz_is_down_when_the_database_is_gone(server, aiohttp_client):
    client = await aiohttp_client(create_app(server.console_deps()))
    await server.database.dispose()
    (server.settings.data_dir / "callcenter.sqlite3").unlink()
    (server.settings.data_dir / "callcenter.sqlite3").mkdir()  # now unopenable
    response = await client.get("/healthz")
    assert response.status == 503
    assert (await response.json())["status"] == "down"


async def test_metrics_are_public_and_the_home_page_asks_for_a_login(server, aiohttp_client):
    client = await aiohttp_client(create_app(server.console_deps()))
    metrics = await (await client.get("/metrics")).text()
    assert "callcenter_ami_connected 0" in metrics
    assert "callcenter_database_up 1" in metrics
    assert "callcenter_call_log_pending_rows 0" in metrics
    assert "callcenter_call_log_refused_rows_total 0" in metrics
    home = await client.get("/", allow_redirects=False)
    assert home.status == 302
    assert home.headers["Location"].startswith("/login")
    login = await client.get("/login")
    assert "General Hospital call center" in await login.text()
