"""After-hours voicemails at rest: sealed with the recording key, kept and deleted like audio.

The IVR's closed branch (``callcenter/ivr/flows/after_hours.py``) records
``after-hours-*.wav`` into the recordings directory and stores the request with Asterisk's path
to it. The recording processor seals each one a few seconds later (its loop, and
``callcenter recordings process``): the WAV is encrypted with ``recording.key`` into the
processed folder as ``<name>.wav.enc`` (written aside, synced, renamed), decrypted again and
compared (SHA-256) with the WAV, the request is pointed at the sealed file in one transaction,
and only then is the WAV deleted. A crash before the commit leaves the WAV as the voicemail
(sealed again at the next pass); one after it leaves a WAV the next start's sweep deletes.
With no key configured, voicemails stay WAVs, as processed recordings stay unencrypted.

Retention (``recording.retention_days``) deletes voicemails older than that, audited; a
patient's erasure deletes theirs (:func:`voicemail_remover`, given to
``hcrm_core.services.privacy``).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select

from callcenter.recording.crypto import RecordingCipher, file_digest
from callcenter.recording.errors import UnsafeRecordingPath
from callcenter.recording.paths import local_path
from callcenter.settings import AsteriskSettings
from hcrm_core.actors import Actor
from hcrm_core.db import Database
from hcrm_core.models import AfterHoursRequest, AuditAction
from hcrm_core.models.hours import VOICEMAIL_PREFIX
from hcrm_core.services.audit import add_audit
from hcrm_core.services.privacy import RemoveFiles

_LOG = logging.getLogger(__name__)
SEALED_SUFFIX = ".enc"
# A WAV changed this recently may still be written by Asterisk: sealed at the next pass.
SETTLE_SECONDS = 2.0
_RAW = re.compile(rf"^{re.escape(VOICEMAIL_PREFIX)}[A-Za-z0-9_-]{{1,100}}\.wav$")


@dataclass(frozen=True, slots=True)
class VoicemailFile:
    """Where this server finds a voicemail, and whether it is sealed (encrypted)."""

    path: Path
    sealed: bool


def voicemail_file(recorded: str | None, asterisk: AsteriskSettings) -> VoicemailFile | None:
    """A request's voicemail: the sealed file, or the WAV Asterisk wrote directly in the
    recordings directory (mapped to this server's view); None for anything else."""
    if not recorded:
        return None
    name = Path(recorded).name
    if name.endswith(SEALED_SUFFIX) and _RAW.match(name[: -len(SEALED_SUFFIX)]):
        return VoicemailFile(Path(recorded), sealed=True)
    if not _RAW.match(name):
        return None
    try:
        return VoicemailFile(local_path(recorded, asterisk), sealed=False)
    except UnsafeRecordingPath:
        return None


async def seal_voicemails(
    cipher: RecordingCipher, database: Database, *, asterisk: AsteriskSettings, processed: Path
) -> int:
    """Seal every voicemail still stored as a WAV (see the module docstring); returns how many."""
    async with database.session() as session:
        waiting = list(
            await session.execute(
                select(AfterHoursRequest.id, AfterHoursRequest.recording_path)
                .where(AfterHoursRequest.recording_path.like("%.wav"))
                .order_by(AfterHoursRequest.id)
            )
        )
    sealed = 0
    for request_id, recorded in waiting:
        found = voicemail_file(recorded, asterisk)
        if found is None or found.sealed:
            continue
        target = processed / f"{found.path.name}{SEALED_SUFFIX}"
        settled_before = time.time() - SETTLE_SECONDS
        try:
            done = await asyncio.to_thread(_seal, cipher, found.path, target, settled_before)
        except OSError as exc:  # unreadable, disk full: the WAV stays, the others go on
            _LOG.warning("voicemail %s not sealed (%s)", found.path.name, exc.strerror)
            continue
        if not done:
            continue
        async with database.transaction() as session:
            row = await session.get(AfterHoursRequest, request_id, with_for_update=True)
            current = row is not None and row.recording_path == recorded
            if row is not None and current:
                row.recording_path = str(target)
        if not current:  # erased or expired meanwhile: the copy goes too
            await asyncio.to_thread(_unlink, [target])
            continue
        # Committed: the sealed copy is the voicemail now, the WAV must go.
        await asyncio.to_thread(_unlink, [found.path])
        sealed += 1
    if sealed:
        _LOG.info("voicemails: %d sealed with recording.key", sealed)
    return sealed


def _seal(cipher: RecordingCipher, source: Path, target: Path, settled_before: float) -> bool:
    """Encrypt ``source`` into ``target`` and check it; False when there is nothing (yet)."""
    try:
        if source.stat().st_mtime > settled_before:
            return False
    except FileNotFoundError:
        return False  # a hang-up before anything was recorded: the request stays a callback
    target.parent.mkdir(parents=True, exist_ok=True)
    expected = file_digest(source)
    cipher.encrypt_file(source, target)  # synced and renamed into place
    if cipher.plaintext_digest(target) != expected:
        target.unlink(missing_ok=True)
        _LOG.error("voicemail %s: the sealed copy does not match; the WAV is kept", source.name)
        return False
    return True


async def sealed_leftovers(database: Database, asterisk: AsteriskSettings) -> list[Path]:
    """WAVs of voicemails sealed before a crash that came before their deletion."""
    async with database.session() as session:
        paths = list(
            await session.scalars(
                select(AfterHoursRequest.recording_path).where(
                    AfterHoursRequest.recording_path.like(f"%.wav{SEALED_SUFFIX}")
                )
            )
        )
    leftovers = []
    for path in paths:
        found = voicemail_file(path, asterisk)
        if found is not None and found.sealed:
            leftovers.append(_wav_of(found.path, asterisk))
    return leftovers


async def expire_voicemails(
    database: Database, asterisk: AsteriskSettings, *, before: datetime, reason: str
) -> int:
    """Delete the voicemails of requests made before ``before`` (each audited); the requests
    stay, without their recording. Returns how many went."""
    async with database.session() as session:
        ids = list(
            await session.scalars(
                select(AfterHoursRequest.id).where(
                    AfterHoursRequest.recording_path.is_not(None),
                    AfterHoursRequest.created_at < before,
                )
            )
        )
    for request_id in ids:
        async with database.transaction() as session:
            row = await session.get(AfterHoursRequest, request_id, with_for_update=True)
            if row is None or row.recording_path is None:
                continue
            await _remove_voicemails(asterisk, [row.recording_path])
            row.recording_path = None
            add_audit(
                session,
                Actor.system(),
                AuditAction.DELETE,
                "after_hours_voicemail",
                row.id,
                patient_id=row.patient_id,
                detail={"reason": reason},
            )
    if ids:
        _LOG.info("retention: %d after-hours voicemails deleted", len(ids))
    return len(ids)


def voicemail_remover(asterisk: AsteriskSettings) -> RemoveFiles:
    """Deletes the voicemails stored at the given request paths (sealed or still WAVs)."""

    async def remove(recorded: Sequence[str]) -> None:
        await _remove_voicemails(asterisk, recorded)

    return remove


async def _remove_voicemails(asterisk: AsteriskSettings, recorded: Sequence[str]) -> None:
    """Delete them (a sealed one with its WAV, if a crash left it); an error propagates, so
    the caller's transaction keeps the request as it was."""
    paths = []
    for path in recorded:
        found = voicemail_file(path, asterisk)
        if found is not None:
            paths.append(found.path)
            if found.sealed:
                paths.append(_wav_of(found.path, asterisk))
    await asyncio.to_thread(_delete, paths)


def _wav_of(sealed: Path, asterisk: AsteriskSettings) -> Path:
    """Where the WAV a sealed voicemail was made from was (this server's view)."""
    root = asterisk.recordings_local_path or Path(str(asterisk.recordings_asterisk_path))
    return root / sealed.name[: -len(SEALED_SUFFIX)]


def _delete(paths: list[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


def _unlink(paths: list[Path]) -> None:
    for path in paths:
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:  # kept for the next sweep; the log says why
            _LOG.warning("voicemail file %s not deleted (%s)", path.name, exc.strerror)
