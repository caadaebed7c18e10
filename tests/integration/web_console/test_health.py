"""The server starts on its embedded defaults and reports its parts honestly."""

from __future__ import annotations

import asyncio
import socket

import pytest

from callcenter.server.root import start_server
from callcenter.settings import Settings
from hcrm_core.models import Role
from hcrm_core.services.users import create_user
from tests.support.console import PASSWORD, login
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


async def test_public_healthz_names_the_failing_part_without_details(server, aiohttp_client):
    client = await aiohttp_client(create_app(server.console_deps()))
    await _wait_for_an_ami_error(server)
    response = await client.get("/healthz")
    assert response.status == 200
    body = await response.json()
    assert set(body) == {"status", "parts", "cluster"}
    assert body["cluster"] == {"leader": True, "epoch": None}  # SQLite: the only process leads
    assert body["status"] == "degraded"
    assert body["parts"] | {"database": "ok", "ami": "down", "agi": "ok"} == body["parts"]
    assert set(body["parts"].values()) <= {"ok", "down"}
    text = await response.text()
    # Nothing an attacker could use: not the AMI user, the PBX's address nor the error.
    assert server.settings.ami.username not in text
    assert str(server.settings.ami.port) not in text
    assert "error" not in text


async def test_healthz_details_are_for_supervisors_and_admins(server, aiohttp_client):
    async with server.database.transaction() as session:
        await create_user(session, username="sup", password=PASSWORD, role=Role.SUPERVISOR)
        await create_user(session, username="agent", password=PASSWORD, role=Role.AGENT)
    await _wait_for_an_ami_error(server)
    supervisor = await aiohttp_client(create_app(server.console_deps()))
    assert (await login(supervisor, "sup")).status == 302
    body = await (await supervisor.get("/healthz")).json()
    assert body["status"] == "degraded"
    assert body["details"]["database"] == {"ok": True, "engine": "sqlite", "error": None}
    assert body["details"]["ami"]["connected"] is False
    assert body["details"]["ami"]["last_error"]
    assert body["details"]["agi"]["listening"] is True
    agent = await aiohttp_client(create_app(server.console_deps()))
    assert (await login(agent, "agent")).status == 302
    assert "details" not in await (await agent.get("/healthz")).json()


async def _wait_for_an_ami_error(server) -> None:
    async with asyncio.timeout(10):
        # The bridge publishes no event for a failed connect: poll its health.
        while not server.ami.health()["last_error"]:  # noqa: ASYNC110
            await asyncio.sleep(0.02)


async def test_healthz_is_down_when_the_database_is_gone(server, aiohttp_client):
    client = await aiohttp_client(create_app(server.console_deps()))
    await server.database.dispose()
    (server.settings.data_dir / "callcenter.sqlite3").unlink()
    (server.settings.data_dir / "callcenter.sqlite3").mkdir()  # now unopenable
    response = await client.get("/healthz")
    assert response.status == 503
    body = await response.json()
    assert set(body) == {"status", "parts", "cluster"}
    assert body["status"] == "down"
    assert body["parts"]["database"] == "down"


async def test_metrics_are_public_and_the_home_page_asks_for_a_login(server, aiohttp_client):
    client = await aiohttp_client(create_app(server.console_deps()))
    metrics = await (await client.get("/metrics")).text()
    assert "callcenter_ami_connected 0" in metrics
    assert "callcenter_database_up 1" in metrics
    assert "callcenter_cluster_leader 1" in metrics
    assert "callcenter_call_log_pending_rows 0" in metrics
    assert "callcenter_call_log_refused_rows_total 0" in metrics
    assert "callcenter_agi_refused_peer_total 0" in metrics
    assert "callcenter_agi_refused_busy_total 0" in metrics
    home = await client.get("/", allow_redirects=False)
    assert home.status == 302
    assert home.headers["Location"].startswith("/login")
    login = await client.get("/login")
    assert "General Hospital call center" in await login.text()
