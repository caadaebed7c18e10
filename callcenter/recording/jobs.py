"""The processing queue, persisted in the database (``recording_jobs``).

A job is claimed by one conditional UPDATE of the oldest claimable row (queued, or running
with an expired lease; ``FOR UPDATE SKIP LOCKED`` on PostgreSQL), so two workers, in one
process or several, never hold it at once on SQLite or PostgreSQL, and a job whose worker
crashed is taken again once its lease runs out. Results are committed in the same transaction
that checks the lease is still ours and marks the job done: a worker that lost its lease
commits nothing, so no job is done twice and nothing it wrote is half-applied."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from callcenter.recording.errors import LeaseLost
from hcrm_core.db import Database
from hcrm_core.models import Recording, RecordingJob, RecordingStatus

_LOG = logging.getLogger(__name__)

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"


@dataclass(frozen=True, slots=True)
class ClaimedJob:
    id: int
    recording_id: int
    attempts: int
    owner: str


def add_job(session: AsyncSession, recording_id: int) -> RecordingJob:
    """Queue processing of a recording in the caller's transaction."""
    job = RecordingJob(recording_id=recording_id, kind="process", state=QUEUED, attempts=0)
    session.add(job)
    return job


class JobQueue:
    def __init__(self, database: Database, *, lease_seconds: int, max_attempts: int) -> None:
        self._db = database
        self._lease = timedelta(seconds=lease_seconds)
        self._max_attempts = max_attempts

    def _claimable(self, now: datetime) -> ColumnElement[bool]:
        return or_(
            RecordingJob.state == QUEUED,
            (RecordingJob.state == RUNNING) & (RecordingJob.lease_until < now),
        )

    async def claim(self, owner: str) -> ClaimedJob | None:
        """Take the oldest claimable job, or None when there is none.

        One statement: the oldest claimable row, locked with ``FOR UPDATE SKIP LOCKED`` on
        PostgreSQL (so concurrent claimers on any processes each take a different job at
        once instead of queueing on one row), is updated to ours. SQLite renders no FOR
        UPDATE and needs none: its write transactions run one at a time.
        """
        now = datetime.now(UTC)
        oldest = (
            select(RecordingJob.id)
            .where(self._claimable(now))
            .order_by(RecordingJob.id)
            .limit(1)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        async with self._db.transaction() as session:
            result = await session.execute(
                update(RecordingJob)
                # The claimable check again: the row may have changed since the subquery
                # read it (PostgreSQL re-reads a locked row's latest version).
                .where(RecordingJob.id == oldest, self._claimable(now))
                .values(
                    state=RUNNING,
                    lease_owner=owner,
                    lease_until=now + self._lease,
                    attempts=RecordingJob.attempts + 1,
                )
                .returning(RecordingJob.id, RecordingJob.recording_id, RecordingJob.attempts)
            )
            row = result.first()
        if row is None:
            return None
        return ClaimedJob(row[0], row[1], row[2], owner)

    async def complete(
        self, job: ClaimedJob, apply: Callable[[AsyncSession], Awaitable[None]]
    ) -> None:
        """Mark the job done and apply its results in one transaction; LeaseLost if not ours."""
        async with self._db.transaction() as session:
            await self._take_over(session, job, DONE)
            await apply(session)

    async def fail(self, job: ClaimedJob, error: str) -> bool:
        """Record a failure: queued again while attempts remain; True when it failed for good."""
        final = job.attempts >= self._max_attempts
        async with self._db.transaction() as session:
            await self._take_over(session, job, FAILED if final else QUEUED, error=error)
            if final:
                await session.execute(
                    update(Recording)
                    .where(Recording.id == job.recording_id)
                    .values(status=RecordingStatus.FAILED, error=error[:2000])
                )
        return final

    async def _take_over(
        self, session: AsyncSession, job: ClaimedJob, state: str, error: str | None = None
    ) -> None:
        result = await session.execute(
            update(RecordingJob)
            .where(
                RecordingJob.id == job.id,
                RecordingJob.state == RUNNING,
                RecordingJob.lease_owner == job.owner,
            )
            .values(
                state=state,
                lease_owner=None if state != DONE else job.owner,
                lease_until=None,
                error=error[:2000] if error else None,
                finished_at=datetime.now(UTC) if state in (DONE, FAILED) else None,
            )
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise LeaseLost(f"job {job.id} is no longer held by {job.owner}")

    async def backlog(self) -> int:
        """Jobs not finished yet (queued or running)."""
        async with self._db.session() as session:
            count = await session.scalar(
                select(func.count())
                .select_from(RecordingJob)
                .where(RecordingJob.state.in_((QUEUED, RUNNING)))
            )
        return int(count or 0)
