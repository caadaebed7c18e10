"""Key rotation (``callcenter recordings rekey``) and the transcript index (``... reindex``).

Rekey moves every processed file, sealed after-hours voicemail and transcript to the
configured ``recording.key``:

* a file or transcript the new key already opens is left alone, so a run cut short is simply
  run again (idempotent);
* one the old key opens is decrypted and encrypted again: a file is written next to the old
  one (``.rekey``), synced, decrypted with the new key and compared (SHA-256) with the old
  plaintext, and only then renamed over it; until that rename the old file is untouched. A
  transcript changes in one transaction with its index;
* one stored in clear (made before encryption was the default) is encrypted;
* anything neither key opens is reported and left as it is.

Run it with the server stopped, after keeping the old key in a file and setting the new one.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from dataclasses import dataclass, field, fields
from pathlib import Path

from sqlalchemy import delete, select

from callcenter.recording.crypto import MAGIC, RecordingCipher, file_digest, fsync_dir
from callcenter.recording.processor import add_terms
from callcenter.recording.voicemails import SEALED_SUFFIX
from hcrm_core.actors import Actor
from hcrm_core.db import Database
from hcrm_core.models import AfterHoursRequest, AuditAction, Recording, Transcript, TranscriptTerm
from hcrm_core.services.audit import add_audit

_LOG = logging.getLogger(__name__)
_SWAP_SUFFIX = ".rekey"


@dataclass(slots=True)
class RekeyReport:
    """What a rekey run did; ``unreadable`` names what neither key opens (left untouched)."""

    files_moved: int = 0
    files_encrypted: int = 0
    files_current: int = 0
    files_missing: int = 0
    transcripts_moved: int = 0
    transcripts_encrypted: int = 0
    transcripts_current: int = 0
    unreadable: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        counts = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "unreadable"}
        return counts | {"unreadable": len(self.unreadable)}


async def rekey(
    database: Database, new: RecordingCipher, old: RecordingCipher | None
) -> RekeyReport:
    """Move every processed file and transcript to ``new`` (see the module docstring)."""
    report = RekeyReport()
    async with database.session() as session:
        recordings = list(
            await session.scalars(
                select(Recording)
                .where(Recording.audio_path.is_not(None), Recording.audio_deleted_at.is_(None))
                .order_by(Recording.id)
            )
        )
    for recording in recordings:
        await _rekey_audio(database, recording, new, old, report)
    async with database.session() as session:
        voicemails = list(
            await session.execute(
                select(AfterHoursRequest.id, AfterHoursRequest.recording_path)
                .where(AfterHoursRequest.recording_path.like(f"%.wav{SEALED_SUFFIX}"))
                .order_by(AfterHoursRequest.id)
            )
        )
    for request_id, recorded in voicemails:
        outcome = await asyncio.to_thread(_rekey_file, Path(recorded or ""), True, new, old)
        _count_file(report, outcome, f"after-hours request {request_id} voicemail")
    async with database.session() as session:
        transcript_ids = list(await session.scalars(select(Transcript.id).order_by(Transcript.id)))
    for transcript_id in transcript_ids:
        await _rekey_transcript(database, transcript_id, new, old, report)
    async with database.transaction() as session:
        add_audit(
            session, Actor.system(), AuditAction.UPDATE, "recording_key", detail=report.counts()
        )
    return report


async def _rekey_audio(
    database: Database,
    recording: Recording,
    new: RecordingCipher,
    old: RecordingCipher | None,
    report: RekeyReport,
) -> None:
    path = Path(recording.audio_path or "")
    outcome = await asyncio.to_thread(_rekey_file, path, recording.audio_encrypted, new, old)
    _count_file(report, outcome, f"recording {recording.id} audio")
    if outcome in ("current", "moved", "encrypted") and not recording.audio_encrypted:
        async with database.transaction() as session:
            row = await session.get(Recording, recording.id)
            assert row is not None
            row.audio_encrypted = True


def _count_file(report: RekeyReport, outcome: str, what: str) -> None:
    if outcome == "missing":
        report.files_missing += 1
    elif outcome == "unreadable":
        report.unreadable.append(what)
    elif outcome == "current":
        report.files_current += 1
    else:
        report.files_moved += outcome == "moved"
        report.files_encrypted += outcome == "encrypted"


def _rekey_file(
    path: Path, encrypted: bool, new: RecordingCipher, old: RecordingCipher | None
) -> str:
    """One file to ``new``: "current", "moved", "encrypted", "missing" or "unreadable"."""
    swap = path.with_name(path.name + _SWAP_SUFFIX)
    if not path.is_file():
        return "missing"
    sealed = _starts_with_magic(path)
    if sealed and new.opens(path):
        swap.unlink(missing_ok=True)  # a run cut short after its rename
        return "current"
    if sealed and old is not None and old.opens(path):
        expected = old.plaintext_digest(path)  # every chunk authenticated before anything moves
        new.encrypt_blocks(old.decrypt_range(path), old.plaintext_size(path), swap)
        outcome = "moved"
    elif not sealed and not encrypted:
        expected = file_digest(path)
        new.encrypt_file(path, swap)
        outcome = "encrypted"
    else:
        return "unreadable"
    if new.plaintext_digest(swap) != expected:
        swap.unlink(missing_ok=True)
        return "unreadable"
    os.replace(swap, path)
    fsync_dir(path.parent)
    return outcome


def _starts_with_magic(path: Path) -> bool:
    with path.open("rb") as reader:
        return reader.read(len(MAGIC)) == MAGIC


async def _rekey_transcript(
    database: Database,
    transcript_id: int,
    new: RecordingCipher,
    old: RecordingCipher | None,
    report: RekeyReport,
) -> None:
    async with database.transaction() as session:
        row = await session.get(Transcript, transcript_id)
        if row is None:
            return
        if row.encrypted:
            if new.opens_text(row.text):
                report.transcripts_current += 1
                return
            if old is None or not old.opens_text(row.text):
                report.unreadable.append(f"transcript {row.id} (recording {row.recording_id})")
                return
            text = old.decrypt_text(row.text)
            words = json.loads(old.decrypt_text(row.words[0]["enc"])) if row.words else []
            report.transcripts_moved += 1
        else:
            text, words = row.text, row.words
            report.transcripts_encrypted += 1
        row.text = new.encrypt_text(text)
        row.words = [{"enc": new.encrypt_text(json.dumps(words, ensure_ascii=False))}]
        row.encrypted = True
        await session.execute(delete(TranscriptTerm).where(TranscriptTerm.transcript_id == row.id))
        add_terms(session, row, new.index, text)


async def reindex(database: Database, cipher: RecordingCipher) -> tuple[int, int]:
    """Rebuild the blind index of every encrypted transcript; returns (indexed, unreadable).

    For transcripts written before the index existed; safe to run again at any time.
    """
    async with database.session() as session:
        ids = list(
            await session.scalars(
                select(Transcript.id).where(Transcript.encrypted.is_(True)).order_by(Transcript.id)
            )
        )
    indexed = unreadable = 0
    for transcript_id in ids:
        async with database.transaction() as session:
            row = await session.get(Transcript, transcript_id)
            if row is None:
                continue
            if not cipher.opens_text(row.text):
                unreadable += 1
                continue
            await session.execute(
                delete(TranscriptTerm).where(TranscriptTerm.transcript_id == row.id)
            )
            add_terms(session, row, cipher.index, cipher.decrypt_text(row.text))
            indexed += 1
    return indexed, unreadable
