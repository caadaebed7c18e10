"""Helpers shared by the console's integration and end-to-end tests."""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import delete

from callcenter.server.root import Server, start_server
from callcenter.settings import Settings
from hcrm_core.actors import Actor
from hcrm_core.db import Database
from hcrm_core.models import Channel, LoginBackoff, LoginFailure, Patient, Role
from hcrm_core.services.appointments import BookingRequest
from hcrm_core.services.users import create_user
from tests.support.factories import make_hospital, make_patient

PASSWORD = "correct-horse-battery"
_CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def console_settings(
    data_dir: Path, database_url: str = "", *, ami_port: int | None = None
) -> Settings:
    """``ami_port``: a fake AMI's (secret "not-used"), with the hospital's caller ID set so
    click-to-dial can place calls; by default a closed port (no PBX)."""
    return Settings(
        data_dir=data_dir,
        database={"url": database_url},
        hospital={"caller_id_number": "+12125550100"} if ami_port else {},
        ami={
            "port": ami_port or closed_port(),
            "secret": "not-used",
            "reconnect_min": 0.05,
            "reconnect_max": 0.2,
        },
        agi={"port": 0},
    )


@dataclass
class ConsoleWorld:
    server: Server
    grace: Patient
    script: Patient  # a patient whose name is an XSS attempt
    agent_id: int


async def start_console_world(
    data_dir: Path, database_url: str = "", *, ami_port: int | None = None
) -> ConsoleWorld:
    """A running server with three users (alice/agent, sam/supervisor, ada/admin), patients
    and one upcoming appointment for Grace."""
    settings = console_settings(data_dir, database_url, ami_port=ami_port)
    server = await start_server(settings, serve_console=False)
    async with server.database.transaction() as session:
        agent = await create_user(session, username="alice", password=PASSWORD, role=Role.AGENT)
        await create_user(session, username="sam", password=PASSWORD, role=Role.SUPERVISOR)
        await create_user(session, username="ada", password=PASSWORD, role=Role.ADMIN)
        for n in range(1, 8):
            await create_user(session, username=f"agent{n}", password=PASSWORD, role=Role.AGENT)
        agent_id = agent.id
    policy = server.settings.booking_policy()
    hospital = await make_hospital(server.database, policy)
    grace = await make_patient(
        server.database,
        policy,
        given_name="Grace",
        family_name="Hopperton",
        mrn="MRN-4242",
        phones=("(212) 555-0142",),
    )
    script = await make_patient(
        server.database, policy, given_name="<script>alert(1)</script>", family_name="Evil"
    )
    slot = (await hospital.free_slots(department_id=hospital.cardiology.id, limit=1))[0]
    await server.appointments.book(
        BookingRequest(grace.id, slot.slot_id, channel=Channel.AGENT, actor=Actor.system())
    )
    return ConsoleWorld(server, grace, script, agent_id)


def csrf_from(html: str) -> str:
    match = _CSRF_RE.search(html)
    assert match, "no CSRF field on the page"
    return match.group(1)


async def login(client: TestClient[Any, Any], username: str, password: str = PASSWORD) -> Any:
    """Log in through the form; returns the response to the POST (not followed)."""
    page = await client.get("/login")
    token = csrf_from(await page.text())
    return await client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token},
        allow_redirects=False,
    )


def session_cookie(client: TestClient[Any, Any]) -> str | None:
    for cookie in client.session.cookie_jar:
        if cookie.key == "cc_session":
            return cookie.value
    return None


def use_only_session_cookie(client: TestClient[Any, Any], value: str) -> None:
    """Make the client present exactly this session id (as a stolen or stale cookie would)."""
    client.session.cookie_jar.clear()
    client.session.cookie_jar.update_cookies({"cc_session": value})


async def forget_login_failures(database: Database) -> None:
    """A fresh login throttle: the counts are stored, shared by the tests of a module's world
    (and a test's fake clock would see other tests' failures as recent)."""
    async with database.transaction() as session:
        await session.execute(delete(LoginFailure))
        await session.execute(delete(LoginBackoff))
