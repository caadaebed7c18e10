"""After-hours voicemails at rest: sealed by the recording processor with the recording key,
the WAV deleted after a verified copy, played decrypted, kept by retention, erased with the
patient, moved by rekey (SQLite and PostgreSQL)."""

from __future__ import annotations

import os
import wave
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePosixPath
from zoneinfo import ZoneInfo

import pytest
from pydantic import SecretStr
from sqlalchemy import select

from callcenter.recording.crypto import MAGIC, RecordingCipher, generate_key
from callcenter.recording.processor import RecordingProcessor
from callcenter.recording.rekey import rekey
from callcenter.recording.retention import apply_retention
from callcenter.recording.voicemails import voicemail_file, voicemail_remover
from callcenter.settings import AsteriskSettings, RecordingSettings
from hcrm_core.actors import Actor
from hcrm_core.db import Database
from hcrm_core.models import AfterHoursKind, AfterHoursRequest, AuditAction, AuditEvent
from hcrm_core.policy import BookingPolicy
from hcrm_core.services.opening_hours import OpeningHoursService
from hcrm_core.services.privacy import erase_patient, export_patient
from tests.support.factories import make_patient

ASTERISK_DIR = PurePosixPath("/var/spool/asterisk/monitor")
NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)


def _bytes(path: str | None) -> bytes:
    return Path(path or "").read_bytes()


def _exists(path: str | None) -> bool:
    return path is not None and Path(path).is_file()


@dataclass
class Rig:
    database: Database
    asterisk: AsteriskSettings
    settings: RecordingSettings
    processor: RecordingProcessor
    hours: OpeningHoursService
    spool: Path  # this server's view of Asterisk's recordings directory
    processed: Path

    @property
    def cipher(self) -> RecordingCipher:
        cipher = RecordingCipher.from_setting(self.settings.key.get_secret_value())
        assert cipher is not None
        return cipher

    async def voicemail(
        self, name: str, *, patient_id: int | None = None, age_days: int = 0
    ) -> tuple[AfterHoursRequest, bytes]:
        """A WAV as Asterisk writes it (settled: last changed a minute ago) and its request."""
        path = self.spool / f"{name}.wav"
        with wave.open(str(path), "wb") as sound:
            sound.setnchannels(1)
            sound.setsampwidth(2)
            sound.setframerate(8000)
            sound.writeframes(os.urandom(16000 * 5 + 123))  # 5 s: more than one chunk
        settled = path.stat().st_mtime - 60
        os.utime(path, (settled, settled))
        hours = OpeningHoursService(
            self.database, ZoneInfo("UTC"), clock=lambda: NOW - timedelta(days=age_days)
        )
        row = await hours.record_request(
            AfterHoursKind.VOICEMAIL,
            "appointments",
            caller_number="+12125550142",
            patient_id=patient_id,
            recording_path=f"{ASTERISK_DIR}/{name}.wav",
        )
        return row, path.read_bytes()

    async def request(self, request_id: int) -> AfterHoursRequest:
        return await self.hours.request(request_id)


@pytest.fixture
async def rig(database: Database, tmp_path: Path) -> AsyncIterator[Rig]:
    spool = tmp_path / "spool"
    spool.mkdir()
    asterisk = AsteriskSettings(recordings_asterisk_path=ASTERISK_DIR, recordings_local_path=spool)
    settings = RecordingSettings(key=SecretStr(generate_key()), transcribe=False)
    with ThreadPoolExecutor(1) as pool:
        processor = RecordingProcessor(
            settings, database, pool, asterisk=asterisk, data_dir=tmp_path / "data"
        )
        yield Rig(
            database,
            asterisk,
            settings,
            processor,
            OpeningHoursService(database, ZoneInfo("UTC")),
            spool,
            tmp_path / "data" / "recordings",
        )


async def test_a_voicemail_is_sealed_its_wav_deleted_and_it_plays_back(rig: Rig) -> None:
    row, audio = await rig.voicemail("after-hours-1700000000-abc123def456")
    raw = rig.spool / "after-hours-1700000000-abc123def456.wav"

    assert await rig.processor.run_backlog() == 0  # no recording jobs; the voicemail sealed

    stored = (await rig.request(row.id)).recording_path
    assert stored == str(rig.processed / "after-hours-1700000000-abc123def456.wav.enc")
    sealed = _bytes(stored)
    assert sealed.startswith(MAGIC) and b"RIFF" not in sealed and audio[1000:1100] not in sealed
    assert not raw.exists()
    found = voicemail_file(stored, rig.asterisk)
    assert found is not None and found.sealed
    assert b"".join(rig.cipher.decrypt_range(found.path)) == audio
    # Sealed once: a second pass finds nothing to do.
    assert await rig.processor.seal_voicemails() == 0


async def test_an_unsettled_or_missing_wav_waits_and_no_key_leaves_wavs(
    rig: Rig, tmp_path: Path
) -> None:
    fresh, _ = await rig.voicemail("after-hours-1700000001-000000000001")
    raw = rig.spool / "after-hours-1700000001-000000000001.wav"
    os.utime(raw)  # written just now: Asterisk may still be writing it
    gone, _ = await rig.voicemail("after-hours-1700000002-000000000002")
    (rig.spool / "after-hours-1700000002-000000000002.wav").unlink()

    assert await rig.processor.seal_voicemails() == 0
    assert (await rig.request(fresh.id)).recording_path == f"{ASTERISK_DIR}/{raw.name}"
    assert (await rig.request(gone.id)).recording_path.endswith(".wav")  # type: ignore[union-attr]

    keyless = RecordingProcessor(
        RecordingSettings(transcribe=False),
        rig.database,
        ThreadPoolExecutor(1),
        asterisk=rig.asterisk,
        data_dir=tmp_path / "data",
    )
    settled = raw.stat().st_mtime - 60
    os.utime(raw, (settled, settled))
    assert await keyless.seal_voicemails() == 0 and raw.exists()
    keyless.executor.shutdown()


async def test_a_crash_after_the_commit_leaves_a_wav_the_next_start_deletes(rig: Rig) -> None:
    row, audio = await rig.voicemail("after-hours-1700000003-000000000003")
    raw = rig.spool / "after-hours-1700000003-000000000003.wav"
    await rig.processor.seal_voicemails()
    raw.write_bytes(audio)  # as if the process died between the commit and the deletion

    assert await rig.processor.remove_leftover_raw_files() == 1
    assert not raw.exists()
    assert _exists((await rig.request(row.id)).recording_path)


async def test_retention_deletes_old_voicemails_sealed_or_not(rig: Rig) -> None:
    old, _ = await rig.voicemail("after-hours-1600000000-000000000004", age_days=40)
    await rig.processor.seal_voicemails()
    old_wav, _ = await rig.voicemail("after-hours-1600000001-000000000005", age_days=40)
    recent, _ = await rig.voicemail("after-hours-1700000005-000000000006", age_days=2)
    await rig.processor.seal_voicemails()
    sealed_old = (await rig.request(old.id)).recording_path
    assert _exists(sealed_old)

    settings = rig.settings.model_copy(update={"retention_days": 30})
    await apply_retention(settings, rig.database, asterisk=rig.asterisk, now=NOW)

    assert (await rig.request(old.id)).recording_path is None
    assert (await rig.request(old_wav.id)).recording_path is None
    assert not _exists(sealed_old)
    assert not (rig.spool / "after-hours-1600000001-000000000005.wav").exists()
    kept = (await rig.request(recent.id)).recording_path
    assert _exists(kept)
    async with rig.database.session() as session:
        audits = list(
            await session.scalars(
                select(AuditEvent).where(AuditEvent.entity == "after_hours_voicemail")
            )
        )
    assert sorted(a.entity_id for a in audits) == sorted([str(old.id), str(old_wav.id)])
    assert {a.action for a in audits} == {AuditAction.DELETE}


async def test_export_lists_and_erasure_deletes_the_patients_voicemails(rig: Rig) -> None:
    patient = await make_patient(rig.database, BookingPolicy())
    theirs, _ = await rig.voicemail("after-hours-1700000006-000000000007", patient_id=patient.id)
    await rig.processor.seal_voicemails()
    unsealed, _ = await rig.voicemail("after-hours-1700000007-000000000008", patient_id=patient.id)
    other, _ = await rig.voicemail("after-hours-1700000008-000000000009")
    sealed = (await rig.request(theirs.id)).recording_path

    bundle = await export_patient(rig.database, Actor.system(), patient.id, decrypt=None)
    assert {r["id"] for r in bundle["after_hours_requests"]} == {theirs.id, unsealed.id}

    erasure = await erase_patient(
        rig.database,
        Actor.system(),
        patient.id,
        remove_voicemails=voicemail_remover(rig.asterisk),
    )

    assert erasure.counts["after_hours_requests"] == 2
    for request_id in (theirs.id, unsealed.id):
        row = await rig.request(request_id)
        assert (row.recording_path, row.caller_number) == (None, "")
    assert _exists(sealed) is False
    assert not (rig.spool / "after-hours-1700000007-000000000008.wav").exists()
    assert (rig.spool / "after-hours-1700000008-000000000009.wav").exists()
    assert (await rig.request(other.id)).recording_path is not None


async def test_rekey_moves_sealed_voicemails_to_the_new_key(rig: Rig) -> None:
    row, audio = await rig.voicemail("after-hours-1700000009-000000000010")
    await rig.processor.seal_voicemails()
    new = RecordingCipher.from_setting(generate_key())
    assert new is not None

    report = await rekey(rig.database, new, rig.cipher)

    assert report.files_moved == 1 and not report.unreadable
    path = Path((await rig.request(row.id)).recording_path or "")
    assert b"".join(new.decrypt_range(path)) == audio and not rig.cipher.opens(path)


def test_only_after_hours_names_are_voicemails() -> None:
    asterisk = AsteriskSettings(recordings_asterisk_path=ASTERISK_DIR)
    assert voicemail_file(f"{ASTERISK_DIR}/after-hours-1-abc.wav", asterisk) is not None
    for odd in (
        f"{ASTERISK_DIR}/recording-1.wav",
        f"{ASTERISK_DIR}/../after-hours-1-abc.wav",
        "/etc/after-hours-1-abc.wav",
        "/data/recording-1.mp3.enc",
        None,
    ):
        assert voicemail_file(odd, asterisk) is None, odd
