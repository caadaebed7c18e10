"""Calling a patient from a task: one click places the desk's click-to-dial (a fake AMI takes
the Originate) and the call's id is kept on the task; someone else's task, or a patient
erased meanwhile, is refused before Asterisk is asked."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sqlalchemy import update

from hcrm_core.actors import Actor
from hcrm_core.models import FollowUpTask, Patient
from hcrm_core.services.users import set_extension, user_by_name
from tests.support.console import login, start_console_world
from tests.support.fake_ami import FakeAmi
from web_console.app import create_app

_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


async def _client(server: Any, aiohttp_client: Any, user: str) -> tuple[Any, dict[str, str]]:
    client = await aiohttp_client(create_app(server.console_deps()))
    assert (await login(client, user)).status == 302
    match = _META.search(await (await client.get("/tasks")).text())
    assert match
    return client, {"X-CSRF-Token": match.group(1)}


async def test_dial_from_a_task_is_linked_to_it(tmp_path: Path, aiohttp_client: Any) -> None:
    fake = FakeAmi(secret="not-used")
    fake.succeed |= {"queueadd", "queueremove", "queuepause", "originate"}
    await fake.start()
    world = await start_console_world(tmp_path / "data", ami_port=fake.port)
    try:
        server = world.server
        await server.ami.wait_ready(10.0)
        alice = await user_by_name(server.database, "alice")
        await set_extension(server.database, alice.id, "1001", Actor.system())
        client, headers = await _client(server, aiohttp_client, "alice")
        other, other_headers = await _client(server, aiohttp_client, "agent1")
        signed = await client.post("/api/v1/desk/sign-in", json={}, headers=headers)
        assert signed.status == 200, await signed.text()

        made = await client.post(
            "/api/v1/tasks",
            json={"patient_id": world.grace.id, "reason": "Call back about the scan"},
            headers=headers,
        )
        task_id = (await made.json())["id"]
        url = f"/api/v1/tasks/{task_id}/dial"
        unclaimed_by_other = await other.post(url, json={}, headers=other_headers)
        assert unclaimed_by_other.status == 403  # not theirs (nobody's yet: claim first)
        assert (
            await client.post(f"/api/v1/tasks/{task_id}/claim", json={}, headers=headers)
        ).status == 200
        bad_number = await client.post(url, json={"number": "12"}, headers=headers)
        assert bad_number.status == 422 and (await bad_number.json())["field"] == "number"
        dialled = await client.post(url, json={}, headers=headers)
        assert dialled.status == 202, await dialled.text()
        placed = await dialled.json()
        assert placed["number"] == "+12125550142" and placed["linkedid"].startswith("c2d-")
        originates = fake.actions("originate")
        assert len(originates) == 1 and originates[0]["ChannelId"] == placed["linkedid"]
        async with server.database.session() as session:
            task = await session.get(FollowUpTask, task_id)
        assert task is not None and task.last_call_ref == placed["linkedid"]

        async with server.database.transaction() as session:
            await session.execute(
                update(Patient).where(Patient.id == world.grace.id).values(active=False)
            )
        gone = await client.post(url, json={}, headers=headers)
        assert gone.status == 409 and (await gone.json())["error"] == "patient_inactive"
        assert len(fake.actions("originate")) == 1
    finally:
        await world.server.stop()
        await fake.stop()
