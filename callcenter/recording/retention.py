"""Retention: audio older than ``recording.retention_days`` is deleted, except on legal hold.

The recording's row, its waveform and (unless ``retention_keeps_transcripts`` is off) its
transcripts stay; each deletion is audited.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import delete

from callcenter.recording.errors import UnsafeRecordingPath
from callcenter.recording.paths import local_path
from callcenter.settings import AsteriskSettings, RecordingSettings
from hcrm_core.actors import Actor
from hcrm_core.db import Database
from hcrm_core.models import AuditAction, Recording, RecordingStatus, Transcript
from hcrm_core.services.audit import add_audit
from hcrm_core.services.recordings import expired_recordings

_LOG = logging.getLogger(__name__)


async def apply_retention(
    settings: RecordingSettings,
    database: Database,
    *,
    asterisk: AsteriskSettings,
    now: datetime | None = None,
) -> int:
    """Delete expired audio; returns how many recordings lost their audio.

    ``asterisk`` maps the original MixMonitor files to this server's paths (they go too).
    """
    days = settings.retention_days
    if days <= 0:
        return 0
    now = now or datetime.now(UTC)
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
    for path in (
        recording.asterisk_path,
        recording.caller_asterisk_path,
        recording.agent_asterisk_path,
    ):
        if path:
            try:
                files.append(local_path(path, asterisk))
            except UnsafeRecordingPath:
                continue
    return files


def _remove_files(paths: list[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)
