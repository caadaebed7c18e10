"""Tasks are claimed once across processes: agents on two processes (two engines, two
connection pools) all claim every open task at once; each task has exactly one winner, on
SQLite and PostgreSQL. A claim names its task (the agent picked it in the inbox), so it is a
conditional UPDATE of that row, not a queue to skip locked rows in."""

from __future__ import annotations

import asyncio
from zoneinfo import ZoneInfo

from hcrm_core.actors import Actor
from hcrm_core.db import Database
from hcrm_core.models import FollowUpTask, Role
from hcrm_core.policy import BookingPolicy
from hcrm_core.services.tasks import TaskService, TaskTaken
from hcrm_core.services.users import create_user
from tests.support.factories import make_patient

TZ = ZoneInfo("America/New_York")
TASKS = 12
AGENTS = 4
WAIT = 60


async def test_agents_on_two_processes_claim_each_task_once(
    database: Database, policy: BookingPolicy
) -> None:
    patient = await make_patient(database, policy)
    async with database.transaction() as session:
        users = [
            await create_user(session, username=f"agent{n}", password="p" * 12, role=Role.AGENT)
            for n in range(AGENTS)
        ]
    agents = [Actor.user(user.id, user.username, "test") for user in users]
    first = TaskService(database, TZ)
    tasks = [
        (await first.create(Actor.system(), patient_id=patient.id, reason=f"call {n}")).id
        for n in range(TASKS)
    ]
    other = Database(database.url)  # the second process: its own engine and pool
    try:
        services = (first, TaskService(other, TZ))
        claims = [
            services[n % 2].claim(task_id, agent)
            for task_id in tasks
            for n, agent in enumerate(agents)
        ]
        async with asyncio.timeout(WAIT):
            results = await asyncio.gather(*claims, return_exceptions=True)
    finally:
        await other.dispose()
    won = [result.id for result in results if isinstance(result, FollowUpTask)]
    lost = [result for result in results if isinstance(result, TaskTaken)]
    assert sorted(won) == sorted(tasks), results  # each task exactly once
    assert len(lost) == TASKS * (AGENTS - 1)
