"""The recordings' retention run (hourly in the server, ``callcenter recordings retention``)
also applies the call records' limits, even with audio kept forever."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from callcenter.recording.retention import apply_retention
from callcenter.settings import AsteriskSettings, RecordingSettings
from hcrm_core.db import Database
from hcrm_core.models import CallEvent

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)


async def test_retention_run_deletes_old_call_events(database: Database):
    async with database.transaction() as session:
        for linkedid, age in (("old", 200), ("new", 1)):
            session.add(
                CallEvent(
                    linkedid=linkedid,
                    seq=1,
                    received_at=NOW - timedelta(days=age),
                    name="Newchannel",
                    headers={},
                )
            )
    settings = RecordingSettings(retention_days=0, call_event_retention_days=90)

    await apply_retention(settings, database, asterisk=AsteriskSettings(), now=NOW)

    async with database.session() as session:
        assert set(await session.scalars(select(CallEvent.linkedid))) == {"new"}
