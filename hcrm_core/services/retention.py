"""Retention of call records: transcripts, raw call events and calls, like recordings' audio.

Each kind has its own age limit (``None`` keeps it). Nothing a legal hold covers goes: a held
recording keeps its transcripts, and its call keeps its row and raw events. A call goes only
once every recording of it has lost its audio (audio retention runs first), and takes its
recordings' rows, reviews and jobs with it. Each purge is one audited transaction whose
audit row holds counts, never what was deleted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hcrm_core.actors import Actor
from hcrm_core.db import Database
from hcrm_core.models import (
    AuditAction,
    Call,
    CallEvent,
    Complaint,
    Recording,
    RecordingJob,
    RecordingReview,
    RecordingStatus,
    Transcript,
    TranscriptTerm,
)
from hcrm_core.services.audit import add_audit

CALL_BATCH = 500


@dataclass(frozen=True, slots=True)
class RecordCutoffs:
    """Records older than these go; None keeps that kind forever."""

    transcripts_before: datetime | None = None
    call_events_before: datetime | None = None
    calls_before: datetime | None = None


async def purge_call_records(database: Database, cutoffs: RecordCutoffs) -> dict[str, int]:
    """Delete expired transcripts, call events and calls (legal holds kept); the counts."""
    counts: dict[str, int] = {}
    if cutoffs.transcripts_before is not None:
        async with database.transaction() as session:
            counts["transcripts"] = await _purge_transcripts(session, cutoffs.transcripts_before)
            _audit(session, "transcripts", counts["transcripts"], cutoffs.transcripts_before)
    if cutoffs.call_events_before is not None:
        async with database.transaction() as session:
            counts["call_events"] = await _purge_events(session, cutoffs.call_events_before)
            _audit(session, "call_events", counts["call_events"], cutoffs.call_events_before)
    if cutoffs.calls_before is not None:
        counts["calls"] = 0
        while True:  # in batches: a first run on a busy site may find years of calls
            async with database.transaction() as session:
                purged = await _purge_calls(session, cutoffs.calls_before)
                _audit(session, "calls", purged, cutoffs.calls_before)
            counts["calls"] += purged
            if purged < CALL_BATCH:
                return counts
    return counts


def _held_call(call_id: Any) -> Any:
    return exists().where(Recording.call_id == call_id, Recording.legal_hold.is_(True))


async def _purge_transcripts(session: AsyncSession, before: datetime) -> int:
    expired = select(Recording.id).where(
        Recording.started_at < before, Recording.legal_hold.is_(False)
    )
    await session.execute(delete(TranscriptTerm).where(TranscriptTerm.recording_id.in_(expired)))
    result = await session.execute(delete(Transcript).where(Transcript.recording_id.in_(expired)))
    return _count(result)


async def _purge_events(session: AsyncSession, before: datetime) -> int:
    held = (
        select(Call.linkedid)
        .join(Recording, Recording.call_id == Call.id)
        .where(Recording.legal_hold.is_(True))
    )
    result = await session.execute(
        delete(CallEvent).where(CallEvent.received_at < before, CallEvent.linkedid.not_in(held))
    )
    return _count(result)


async def _purge_calls(session: AsyncSession, before: datetime) -> int:
    audio_left = exists().where(
        Recording.call_id == Call.id,
        Recording.audio_deleted_at.is_(None),
        # "deleted": its files went when it was dropped (nobody answered, never turned on).
        Recording.status != RecordingStatus.DELETED,
    )
    expired = list(
        await session.scalars(
            select(Call)
            .where(
                Call.started_at < before,
                Call.ended_at.is_not(None),
                ~_held_call(Call.id),
                # A recording still holding audio: the audio's own retention goes first.
                ~audio_left,
            )
            .order_by(Call.id)
            .limit(CALL_BATCH)
        )
    )
    if not expired:
        return 0
    call_ids = [call.id for call in expired]
    recordings = select(Recording.id).where(Recording.call_id.in_(call_ids))
    await session.execute(delete(TranscriptTerm).where(TranscriptTerm.recording_id.in_(recordings)))
    await session.execute(delete(Transcript).where(Transcript.recording_id.in_(recordings)))
    await session.execute(delete(RecordingJob).where(RecordingJob.recording_id.in_(recordings)))
    await session.execute(
        delete(RecordingReview).where(RecordingReview.recording_id.in_(recordings))
    )
    await session.execute(delete(Recording).where(Recording.call_id.in_(call_ids)))
    # A complaint outlives the call it was raised on.
    await session.execute(
        update(Complaint).where(Complaint.call_id.in_(call_ids)).values(call_id=None)
    )
    await session.execute(
        delete(CallEvent).where(CallEvent.linkedid.in_([call.linkedid for call in expired]))
    )
    result = await session.execute(delete(Call).where(Call.id.in_(call_ids)))
    return _count(result)


def _audit(session: AsyncSession, entity: str, count: int, before: datetime) -> None:
    if count:
        add_audit(
            session,
            Actor.system(),
            AuditAction.DELETE,
            entity,
            detail={"reason": "retention", "before": before.isoformat(), "count": count},
        )


def _count(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)
