"""Retention of transcripts, call events and calls: by age, never what a legal hold covers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from hcrm_core.db import Database
from hcrm_core.models import (
    AuditAction,
    AuditEvent,
    Call,
    CallDirection,
    CallEvent,
    Recording,
    RecordingStatus,
    Transcript,
)
from hcrm_core.services.retention import RecordCutoffs, purge_call_records

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
OLD = NOW - timedelta(days=400)
RECENT = NOW - timedelta(days=2)


async def _call(
    database: Database,
    linkedid: str,
    started: datetime,
    *,
    hold: bool = False,
    audio_gone: bool = True,
) -> int:
    async with database.transaction() as session:
        call = Call(
            linkedid=linkedid,
            direction=CallDirection.INBOUND,
            caller_number="+12125550100",
            started_at=started,
            ended_at=started + timedelta(minutes=3),
        )
        session.add(call)
        await session.flush()
        session.add(
            CallEvent(linkedid=linkedid, seq=1, received_at=started, name="Newchannel", headers={})
        )
        recording = Recording(
            call_id=call.id,
            asterisk_path=f"/var/spool/asterisk/monitor/{linkedid}.wav",
            status=RecordingStatus.PROCESSED,
            started_at=started,
            legal_hold=hold,
            audio_deleted_at=started + timedelta(days=30) if audio_gone else None,
        )
        session.add(recording)
        await session.flush()
        session.add(Transcript(recording_id=recording.id, speaker="caller", text="hello"))
        return call.id


async def _left(database: Database) -> dict[str, set[str]]:
    async with database.session() as session:
        calls = set(await session.scalars(select(Call.linkedid)))
        events = set(await session.scalars(select(CallEvent.linkedid)))
        transcribed = set(
            await session.scalars(
                select(Call.linkedid)
                .join(Recording, Recording.call_id == Call.id)
                .join(Transcript, Transcript.recording_id == Recording.id)
            )
        )
    return {"calls": calls, "events": events, "transcripts": transcribed}


async def test_nothing_goes_without_a_limit(database: Database):
    await _call(database, "old", OLD)
    assert await purge_call_records(database, RecordCutoffs()) == {}
    assert (await _left(database))["calls"] == {"old"}


async def test_each_kind_goes_after_its_own_age_and_holds_are_kept(database: Database):
    await _call(database, "old", OLD)
    await _call(database, "old-held", OLD, hold=True)
    await _call(database, "old-with-audio", OLD, audio_gone=False)
    await _call(database, "recent", RECENT)

    counts = await purge_call_records(
        database,
        RecordCutoffs(
            transcripts_before=NOW - timedelta(days=30),
            call_events_before=NOW - timedelta(days=90),
            calls_before=NOW - timedelta(days=365),
        ),
    )

    left = await _left(database)
    assert left["transcripts"] == {"old-held", "recent"}
    assert left["events"] == {"old-held", "recent"}
    # The old call whose audio is still kept waits for the audio's retention.
    assert left["calls"] == {"old-held", "old-with-audio", "recent"}
    assert counts == {"transcripts": 2, "call_events": 2, "calls": 1}
    async with database.session() as session:
        assert await session.scalar(select(func.count()).select_from(Recording)) == 3
        rows = list(
            await session.scalars(select(AuditEvent).where(AuditEvent.action == AuditAction.DELETE))
        )
    assert {row.entity: row.detail["count"] for row in rows} == counts
