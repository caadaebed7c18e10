"""Recording jobs are claimed once across processes: two processes (two engines, two
connection pools) with several workers each drain one queue; every job is claimed exactly
once, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

from sqlalchemy import select

from callcenter.recording.jobs import JobQueue, add_job
from hcrm_core.db import Database
from hcrm_core.models import Call, CallDirection, Recording, RecordingJob, RecordingStatus

JOBS = 120
WORKERS_PER_PROCESS = 4
WAIT = 60


async def _queue_jobs(database: Database, count: int) -> set[int]:
    now = datetime.now(UTC)
    async with database.transaction() as session:
        for n in range(count):
            call = Call(linkedid=f"race-{n}", direction=CallDirection.INBOUND, started_at=now)
            session.add(call)
            await session.flush()
            recording = Recording(
                call_id=call.id,
                linkedid=call.linkedid,
                status=RecordingStatus.PENDING,
                started_at=now,
                asterisk_path=f"/var/spool/asterisk/monitor/race-{n}.wav",
            )
            session.add(recording)
            await session.flush()
            add_job(session, recording.id)
    async with database.session() as session:
        return set(await session.scalars(select(RecordingJob.id)))


async def _drain(queue: JobQueue, owner: str) -> list[int]:
    claimed: list[int] = []
    while (job := await queue.claim(owner)) is not None:
        claimed.append(job.id)
    return claimed


async def test_two_processes_draining_one_queue_claim_every_job_exactly_once(
    database: Database,
) -> None:
    jobs = await _queue_jobs(database, JOBS)
    other = Database(database.url)  # the second process: its own engine and pool
    try:
        workers = [
            _drain(JobQueue(db, lease_seconds=600, max_attempts=3), f"{name}-{n}")
            for name, db in (("a", database), ("b", other))
            for n in range(WORKERS_PER_PROCESS)
        ]
        started = time.monotonic()
        async with asyncio.timeout(WAIT):
            claimed = await asyncio.gather(*workers)
        elapsed = time.monotonic() - started
    finally:
        await other.dispose()
    every = [job for worker in claimed for job in worker]
    assert len(every) == len(set(every)), "a job was claimed twice"
    assert set(every) == jobs, "a job was never claimed"
    assert sum(1 for worker in claimed if worker) > 1  # the workers really raced
    print(f"{database.dialect}: {JOBS} jobs claimed in {elapsed:.2f} s")
