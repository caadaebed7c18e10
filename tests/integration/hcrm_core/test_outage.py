"""The database going away: a clear, typed error, nothing half-written, and recovery."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import asyncpg
import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from callcenter.calls.call_log import CallLogWriter
from hcrm_core.actors import Actor
from hcrm_core.db import Database
from hcrm_core.errors import StorageUnavailable
from hcrm_core.models import Appointment, AuditEvent, Call, Channel
from hcrm_core.services.appointments import AppointmentService, BookingRequest
from tests.conftest import _pg_dsn
from tests.support.factories import make_hospital, make_patient


@asynccontextmanager
async def postgres_refusing(database: Database):
    """Make PostgreSQL refuse (and drop) every connection to this database for a while."""
    name = make_url(database.url).database
    admin = await asyncpg.connect(_pg_dsn(database.url, "postgres"))
    try:
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name
        )
        yield
    finally:
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        await admin.close()


async def _counts(database: Database) -> tuple[int, int]:
    async with database.session() as session:
        return (
            await session.scalar(select(func.count()).select_from(Appointment)),
            await session.scalar(select(func.count()).select_from(AuditEvent)),
        )


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
async def test_booking_during_an_outage_fails_cleanly_and_works_after(database, policy):
    hospital = await make_hospital(database, policy)
    patient = await make_patient(database, policy)
    slot = (await hospital.free_slots(department_id=hospital.cardiology.id, limit=1))[0]
    service = AppointmentService(database, policy)
    request = BookingRequest(
        patient_id=patient.id, slot_id=slot.slot_id, channel=Channel.AGENT, actor=Actor.system()
    )
    before = await _counts(database)
    async with postgres_refusing(database):
        with pytest.raises(StorageUnavailable, match="nothing was changed"):
            await service.book(request)
    assert await _counts(database) == before
    booked = await service.book(request)  # the pool recovers by itself
    assert booked.slot_id == slot.slot_id
    assert await _counts(database) == (before[0] + 1, before[1] + 1)


async def test_unopenable_sqlite_is_a_clear_error(tmp_path):
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'missing-dir' / 'x.sqlite3'}")
    try:
        with pytest.raises(StorageUnavailable):
            async with database.session() as session:
                await session.execute(select(1))
    finally:
        await database.dispose()


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
async def test_call_log_keeps_and_retries_rows_through_an_outage(database):
    writer = CallLogWriter(database, flush_interval=0.05)
    await writer.start()
    now = datetime.now(UTC)
    row = {
        "linkedid": "1700000000.7",
        "direction": "inbound",
        "started_at": now,
        "caller_number": "2125550142",
        "ivr_context": {},
        "abandoned": False,
        "transfers": 0,
    }
    try:
        async with postgres_refusing(database):
            writer.save_call(row)
            async with asyncio.timeout(10):
                while writer.failures == 0:  # noqa: ASYNC110 - waiting for the retry loop
                    await asyncio.sleep(0.05)
            # The call ends while the database is still away.
            writer.save_call({**row, "ended_at": now, "end_reason": "completed"})
        async with asyncio.timeout(15):
            while writer.pending:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
    finally:
        await writer.stop()
    async with database.session() as session:
        calls = (await session.scalars(select(Call))).all()
    assert [(c.linkedid, c.end_reason) for c in calls] == [("1700000000.7", "completed")]
