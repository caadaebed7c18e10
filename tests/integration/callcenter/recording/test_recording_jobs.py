"""The processing queue, failures, retention and legal hold, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePosixPath

import pytest
from pydub import AudioSegment
from pydub.generators import Sine
from sqlalchemy import func, select, update

from callcenter.recording.crypto import MAGIC, RecordingCipher, generate_key
from callcenter.recording.errors import LeaseLost
from callcenter.recording.jobs import JobQueue, add_job
from callcenter.recording.processor import RecordingProcessor, make_pool
from callcenter.recording.retention import apply_retention
from callcenter.recording.services import RecordingService
from callcenter.settings import AsteriskSettings, RecordingSettings, Settings
from hcrm_core.db import Database
from hcrm_core.models import (
    AuditAction,
    AuditEvent,
    Call,
    CallDirection,
    Recording,
    RecordingJob,
    RecordingStatus,
    Role,
    Transcript,
)
from hcrm_core.services.recording_search import RecordingFilter, search_recordings
from hcrm_core.services.recordings import Viewer

MONITOR = PurePosixPath("/var/spool/asterisk/monitor")


def _exists(path: str) -> bool:
    return Path(path).exists()


def _head(path: Path) -> bytes:
    return path.read_bytes()[: len(MAGIC)]


def _settings(tmp: Path, **recording: object) -> Settings:
    # Transcription (the Vosk model) only where a test needs transcripts: it is slow to load.
    recording.setdefault("transcribe", False)
    return Settings(
        data_dir=tmp,
        asterisk=AsteriskSettings(
            recordings_asterisk_path=MONITOR, recordings_local_path=tmp / "monitor"
        ),
        recording=RecordingSettings(processed_dir=tmp / "processed", **recording),
    )


def _processor(
    settings: Settings,
    database: Database,
    pool: Executor,
    *,
    pool_factory: Callable[[], Executor] | None = None,
) -> RecordingProcessor:
    """The processor wired as the slice's plugin wires it, from the whole test settings."""
    return RecordingProcessor(
        settings.recording,
        database,
        pool,
        asterisk=settings.asterisk,
        data_dir=settings.data_dir,
        pool_factory=pool_factory,
    )


def _write_sides(settings: Settings, stem: str, seconds: float = 2.0) -> None:
    folder = settings.asterisk.recordings_local_path
    assert folder is not None
    folder.mkdir(parents=True, exist_ok=True)
    tone = Sine(300).to_audio_segment(duration=seconds * 1000).set_frame_rate(8000)
    for side in ("caller", "agent"):
        tone.set_channels(1).export(folder / f"{stem}-{side}.wav", format="wav")
    AudioSegment.silent(duration=10, frame_rate=8000).export(folder / f"{stem}.wav", format="wav")


async def _recording(
    database: Database,
    stem: str,
    *,
    status: RecordingStatus = RecordingStatus.PENDING,
    age_days: float = 0,
    end_reason: str = "completed",
    job: bool = True,
) -> int:
    started = datetime.now(UTC) - timedelta(days=age_days)
    async with database.transaction() as session:
        call = Call(
            linkedid=stem,
            direction=CallDirection.INBOUND,
            started_at=started,
            answered_at=started,
            ended_at=started + timedelta(seconds=5),
            end_reason=end_reason,
        )
        session.add(call)
        await session.flush()
        recording = Recording(
            call_id=call.id,
            linkedid=stem,
            status=status,
            started_at=started,
            asterisk_path=str(MONITOR / f"{stem}.wav"),
            caller_asterisk_path=str(MONITOR / f"{stem}-caller.wav"),
            agent_asterisk_path=str(MONITOR / f"{stem}-agent.wav"),
        )
        session.add(recording)
        await session.flush()
        if job:
            add_job(session, recording.id)
        return recording.id


async def _count(database: Database, model: type, **where: object) -> int:
    async with database.session() as session:
        query = select(func.count()).select_from(model)
        for name, value in where.items():
            query = query.where(getattr(model, name) == value)
        return int(await session.scalar(query) or 0)


async def test_concurrent_claims_never_share_a_job(database: Database, tmp_path: Path) -> None:
    ids = [await _recording(database, f"claim-{n}") for n in range(6)]
    queues = [JobQueue(database, lease_seconds=60, max_attempts=3) for _ in range(8)]
    claimed = await asyncio.gather(*(q.claim(f"worker-{n}") for n, q in enumerate(queues)))
    got = [c.recording_id for c in claimed if c is not None]
    assert sorted(got) == sorted(ids)  # each job once, the two extra workers get nothing
    assert claimed.count(None) == 2


async def test_a_crashed_worker_s_job_is_resumed_once_without_duplicates(
    database: Database, tmp_path: Path
) -> None:
    settings = _settings(tmp_path, transcribe=True)
    _write_sides(settings, "crash-1")
    recording_id = await _recording(database, "crash-1")
    # Worker A claims the job and dies: its lease runs out (here: it is already over).
    crashed = await JobQueue(database, lease_seconds=-1, max_attempts=3).claim("worker-a")
    assert crashed is not None and crashed.recording_id == recording_id
    # It had left a half-written output behind.
    partial = tmp_path / "processed" / f"recording-{recording_id}.mp3.part"
    partial.parent.mkdir(parents=True)
    partial.write_bytes(b"half")
    pool = make_pool(settings.recording)
    try:
        processor = _processor(settings, database, pool)
        assert await processor.run_backlog() == 1
        assert await processor.run_backlog() == 0  # done once, not again
        # Worker A comes back to life and tries to commit: refused, nothing applied.
        with pytest.raises(LeaseLost):
            await processor.queue.complete(crashed, _must_not_run)
        # Running the same recording again (an operator re-queues it) replaces, never adds;
        # once its plaintext WAVs are gone (deleted after the first run), the job keeps the
        # encrypted copy as it is instead of failing the recording.
        async with database.transaction() as session:
            await session.execute(update(RecordingJob).values(state="queued"))
        _write_sides(settings, "crash-1")
        assert await processor.run_backlog() == 1
        async with database.transaction() as session:
            await session.execute(update(RecordingJob).values(state="queued"))
        assert await processor.run_backlog() == 1
    finally:
        pool.shutdown(wait=True)
    async with database.session() as session:
        recording = await session.get(Recording, recording_id)
        job = (await session.scalars(select(RecordingJob))).one()
    assert recording is not None and recording.status is RecordingStatus.PROCESSED
    assert recording.duration_seconds == pytest.approx(2.0, abs=0.05)
    assert job.state == "done" and job.attempts == 4
    assert await _count(database, Transcript, recording_id=recording_id) == 2
    outputs = sorted(p.name for p in (tmp_path / "processed").iterdir())
    # One output, named by the recording id; the crashed worker's partial file was replaced.
    assert outputs == [f"recording-{recording_id}.mp3"]


async def _must_not_run(_session: object) -> None:
    raise AssertionError("results of a lost lease were applied")


async def test_a_job_failing_every_attempt_marks_the_recording_failed(
    database: Database, tmp_path: Path
) -> None:
    settings = _settings(tmp_path, max_attempts=2)
    folder = settings.asterisk.recordings_local_path
    assert folder is not None
    folder.mkdir(parents=True)
    for side in ("caller", "agent"):
        (folder / f"bad-1-{side}.wav").write_bytes(b"RIFF" + b"\x00" * 2000)  # not audio
    recording_id = await _recording(database, "bad-1")
    pool = make_pool(settings.recording)
    try:
        assert await _processor(settings, database, pool).run_backlog() == 2
    finally:
        pool.shutdown(wait=True)
    async with database.session() as session:
        recording = await session.get(Recording, recording_id)
    assert recording is not None and recording.status is RecordingStatus.FAILED
    assert recording.error


@pytest.mark.parametrize(
    ("end_reason", "write_files", "message"),
    [
        ("completed", False, "no recording file was written"),
        ("asterisk_shut_down", True, "Asterisk stopped during the call"),
    ],
)
async def test_a_broken_recording_is_marked_failed_and_listed(
    database: Database, tmp_path: Path, end_reason: str, write_files: bool, message: str
) -> None:
    settings = _settings(tmp_path)
    if write_files:
        _write_sides(settings, "broken-1")
    await _recording(
        database, "broken-1", status=RecordingStatus.RECORDING, end_reason=end_reason, job=False
    )
    service = RecordingService(settings.asterisk, database, ami=None)  # type: ignore[arg-type]
    # The server was down when the call ended: the start-up sweep closes the recording.
    assert await service.close_leftovers() == 1
    supervisor = Viewer(user_id=1, role=Role.SUPERVISOR)
    (listed,) = await search_recordings(database, supervisor, RecordingFilter(), None)
    assert listed["status"] == "failed" and message in listed["error"]
    assert await _count(database, RecordingJob) == 0


async def test_retention_deletes_old_audio_but_not_legal_holds_or_transcripts(
    database: Database, tmp_path: Path
) -> None:
    settings = _settings(tmp_path, retention_days=30, transcribe=True)
    ids = {}
    for stem, age in (("old", 40), ("held", 40), ("recent", 5)):
        _write_sides(settings, stem)
        ids[stem] = await _recording(database, stem, age_days=age)
    pool = make_pool(settings.recording)
    try:
        assert await _processor(settings, database, pool).run_backlog() == 3
    finally:
        pool.shutdown(wait=True)
    async with database.transaction() as session:
        await session.execute(
            update(Recording).where(Recording.id == ids["held"]).values(legal_hold=True)
        )
    assert await apply_retention(settings.recording, database, asterisk=settings.asterisk) == 1
    async with database.session() as session:
        rows = {r.id: r for r in await session.scalars(select(Recording))}
    old, held, recent = rows[ids["old"]], rows[ids["held"]], rows[ids["recent"]]
    assert old.audio_path is None and old.audio_deleted_at is not None
    assert old.status is RecordingStatus.PROCESSED and old.peaks  # metadata stays
    assert await _count(database, Transcript, recording_id=old.id) == 2
    local = settings.asterisk.recordings_local_path
    assert local is not None
    assert not (local / "old-caller.wav").exists()
    assert not (tmp_path / "processed" / f"recording-{old.id}.mp3").exists()
    for kept in (held, recent):
        assert kept.audio_path is not None and _exists(kept.audio_path)
    async with database.session() as session:
        deletions = list(
            await session.scalars(select(AuditEvent).where(AuditEvent.action == AuditAction.DELETE))
        )
    assert [(a.entity, a.entity_id) for a in deletions] == [("recording_audio", str(old.id))]
    # Nothing left to delete.
    assert await apply_retention(settings.recording, database, asterisk=settings.asterisk) == 0


async def test_a_worker_killed_mid_job_is_replaced_and_the_job_done_once(
    database: Database, tmp_path: Path
) -> None:
    settings = _settings(tmp_path, transcribe=True)
    _write_sides(settings, "killed-1", seconds=20)
    recording_id = await _recording(database, "killed-1")
    processor = _processor(
        settings,
        database,
        make_pool(settings.recording),
        pool_factory=lambda: make_pool(settings.recording),
    )
    try:
        running = asyncio.create_task(processor.run_one())
        # The job is in a worker process (loading the model, then transcribing): kill it.
        async with asyncio.timeout(30):
            while not multiprocessing.active_children():  # noqa: ASYNC110 - no event marks a spawn
                await asyncio.sleep(0.05)
        for child in multiprocessing.active_children():
            os.kill(child.pid or 0, signal.SIGKILL)
        assert await running is True  # the failure was recorded, not raised
        assert await processor.run_backlog() == 1  # a new pool took the job again
        assert await processor.run_backlog() == 0
    finally:
        processor.executor.shutdown(wait=True)
    async with database.session() as session:
        recording = await session.get(Recording, recording_id)
        job = (await session.scalars(select(RecordingJob))).one()
    assert recording is not None and recording.status is RecordingStatus.PROCESSED
    assert job.state == "done" and job.attempts == 2 and job.error is None
    assert await _count(database, Transcript, recording_id=recording_id) == 2


async def test_a_caller_who_never_reached_an_agent_leaves_no_recording(
    database: Database, tmp_path: Path
) -> None:
    settings = _settings(tmp_path)
    folder = settings.asterisk.recordings_local_path
    assert folder is not None
    folder.mkdir(parents=True)
    # MixMonitor (option b) wrote only WAV headers: the caller was never bridged.
    empty = AudioSegment.silent(duration=0, frame_rate=8000)
    for name in ("gone-1.wav", "gone-1-caller.wav", "gone-1-agent.wav"):
        empty.export(folder / name, format="wav")
    recording_id = await _recording(
        database, "gone-1", status=RecordingStatus.RECORDING, end_reason="abandoned", job=False
    )
    async with database.transaction() as session:
        await session.execute(update(Call).values(answered_at=None))
    service = RecordingService(settings.asterisk, database, ami=None)  # type: ignore[arg-type]
    assert await service.close_leftovers() == 1
    async with database.session() as session:
        recording = await session.get(Recording, recording_id)
    assert recording is not None and recording.status is RecordingStatus.DELETED
    assert recording.error == "the call never reached an agent: nothing was recorded"
    assert sorted(folder.iterdir()) == []
    assert await _count(database, RecordingJob) == 0


async def test_processing_keeps_only_the_encrypted_copy_and_deletes_the_raw_files(
    database: Database, tmp_path: Path
) -> None:
    key = generate_key()
    settings = _settings(tmp_path, key=key)
    _write_sides(settings, "raw-1")
    recording_id = await _recording(database, "raw-1")
    local = settings.asterisk.recordings_local_path
    assert local is not None
    raw = [local / name for name in ("raw-1.wav", "raw-1-caller.wav", "raw-1-agent.wav")]
    assert all(p.exists() for p in raw)
    pool = make_pool(settings.recording)
    try:
        assert await _processor(settings, database, pool).run_backlog() == 1
    finally:
        pool.shutdown(wait=True)
    async with database.session() as session:
        recording = await session.get(Recording, recording_id)
    assert recording is not None and recording.status is RecordingStatus.PROCESSED
    audio = Path(recording.audio_path or "")
    assert _head(audio) == MAGIC and recording.audio_encrypted
    cipher = RecordingCipher.from_setting(key)
    assert cipher is not None and cipher.plaintext_size(audio) > 0
    # No plaintext audio is left anywhere: MixMonitor's three files and any temporary file.
    assert [p for p in raw if p.exists()] == []
    assert sorted(p.name for p in audio.parent.iterdir()) == [audio.name]


async def test_a_copy_that_does_not_verify_keeps_the_raw_files(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _settings(tmp_path, key=generate_key(), max_attempts=1)
    _write_sides(settings, "bad-copy")
    recording_id = await _recording(database, "bad-copy")
    # The encrypted file reads back differently (a disk returning other bytes).
    monkeypatch.setattr(RecordingCipher, "plaintext_digest", lambda self, path: "0" * 64)
    with ThreadPoolExecutor(1) as pool:  # in-process, so the patch applies to the worker
        assert await _processor(settings, database, pool).run_backlog() == 1
    async with database.session() as session:
        recording = await session.get(Recording, recording_id)
    assert recording is not None and recording.status is RecordingStatus.FAILED
    assert recording.error and "does not decrypt" in recording.error
    local = settings.asterisk.recordings_local_path
    assert local is not None and (local / "bad-copy-caller.wav").exists()


async def test_raw_files_left_by_a_crash_after_the_commit_go_at_the_next_start(
    database: Database, tmp_path: Path
) -> None:
    settings = _settings(tmp_path, key=generate_key())
    _write_sides(settings, "crashed")
    await _recording(database, "crashed", status=RecordingStatus.PROCESSED, job=False)
    _write_sides(settings, "waiting")
    await _recording(database, "waiting")  # pending: its files are still needed
    processed = tmp_path / "processed"
    processed.mkdir()
    (processed / "recording-9.mp3.plain").write_bytes(b"plaintext left by a crash")
    with ThreadPoolExecutor(1) as pool:
        processor = _processor(settings, database, pool)
        assert await processor.remove_leftover_raw_files() == 4
    local = settings.asterisk.recordings_local_path
    assert local is not None
    assert sorted(p.name for p in local.iterdir()) == [
        "waiting-agent.wav",
        "waiting-caller.wav",
        "waiting.wav",
    ]
    assert list(processed.iterdir()) == []
