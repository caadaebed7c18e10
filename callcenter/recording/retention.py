"""Retention: audio older than ``recording.retention_days`` is deleted, except on legal hold,
and so are the after-hours voicemails older than that.

The recording's row, its waveform and (unless ``retention_keeps_transcripts`` is off) its
transcripts stay; each deletion is audited.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import delete

from callcenter.recording.paths import raw_files
from callcenter.recording.voicemails import expire_voicemails
from callcenter.settings import AsteriskSettings, RecordingSettings
from hcrm_core.actors import Actor
from hcrm_core.db import Database
from hcrm_core.models import AuditAction, Recording, RecordingStatus, Transcript, TranscriptTerm
from hcrm_core.services.audit import add_audit
from hcrm_core.services.recordings import expired_recordings
from hcrm_core.services.retention import RecordCutoffs, purge_call_records

_LOG = logging.getLogger(__name__)


async def apply_retention(
    settings: RecordingSettings,
    database: Database,
    *,
    asterisk: AsteriskSettings,
    now: datetime | None = None,
) -> int:
    """Delete expired audio and after-hours voicemails, then expired call records
    (:func:`apply_record_retention`); returns how many recordings lost their audio.

    ``asterisk`` maps the original MixMonitor files to this server's paths (they go too).
    """
    now = now or datetime.now(UTC)
    days = settings.retention_days
    if days > 0:
        deleted = await _delete_expired_audio(settings, database, asterisk, days, now)
        await expire_voicemails(
            database, asterisk, before=now - timedelta(days=days), reason=f"retention {days} days"
        )
    else:
        deleted = 0
    # After the audio: a call goes only once its recordings' audio has.
    await apply_record_retention(settings, database, now=now)
    return deleted


async def apply_record_retention(
    settings: RecordingSettings, database: Database, *, now: datetime
) -> dict[str, int]:
    """Transcripts, raw call events and calls past their ``*_retention_days`` (legal holds
    kept; hcrm_core/services/retention.py); returns the counts deleted."""

    def cutoff(days: int) -> datetime | None:
        return now - timedelta(days=days) if days > 0 else None

    counts = await purge_call_records(
        database,
        RecordCutoffs(
            transcripts_before=cutoff(settings.transcript_retention_days),
            call_events_before=cutoff(settings.call_event_retention_days),
            calls_before=cutoff(settings.call_retention_days),
        ),
    )
    if any(counts.values()):
        _LOG.info("retention: %s deleted", ", ".join(f"{n} {k}" for k, n in counts.items()))
    return counts


async def _delete_expired_audio(
    settings: RecordingSettings,
    database: Database,
    asterisk: AsteriskSettings,
    days: int,
    now: datetime,
) -> int:
    expired = await expired_recordings(database, now - timedelta(days=days))
    for recording in expired:
        await asyncio.to_thread(_remove_files, _files_of(asterisk, recording))
        async with database.transaction() as session:
            row = await session.get(Recording, recording.id)
            if row is None or row.legal_hold:  # put on hold since we listed it
                continue
            row.audio_deleted_at = now
            row.audio_path = None
            if row.status is RecordingStatus.PROCESSED and not settings.retention_keeps_transcripts:
                await session.execute(
                    delete(TranscriptTerm).where(TranscriptTerm.recording_id == row.id)
                )
                await session.execute(delete(Transcript).where(Transcript.recording_id == row.id))
            if row.status is not RecordingStatus.PROCESSED:
                row.status = RecordingStatus.DELETED
            add_audit(
                session,
                Actor.system(),
                AuditAction.DELETE,
                "recording_audio",
                row.id,
                patient_id=row.patient_id,
                detail={"reason": f"retention {days} days"},
            )
    if expired:
        _LOG.info("retention: audio of %d recordings deleted", len(expired))
    return len(expired)


def _files_of(asterisk: AsteriskSettings, recording: Recording) -> list[Path]:
    files = [Path(recording.audio_path)] if recording.audio_path else []
    return files + raw_files(recording, asterisk)


def _remove_files(paths: list[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)
