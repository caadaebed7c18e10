"""Works through the job queue: claim, process in the worker pool, store, repeat.

CPU work (transcoding, Vosk) runs in a ``ProcessPoolExecutor`` whose workers load the model
once; the event loop only awaits their results and writes rows. MixMonitor's plaintext WAVs
are deleted once the job's results are committed (the worker has made the processed copy
durable and verified it); files a crash left behind go at the next start. The same loop seals
the after-hours voicemails every few seconds (:mod:`callcenter.recording.voicemails`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import multiprocessing
import os
import socket
import uuid
from collections.abc import Callable
from concurrent.futures import BrokenExecutor, Executor, ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.recording.blind_index import BlindIndex
from callcenter.recording.crypto import RecordingCipher
from callcenter.recording.errors import LeaseLost
from callcenter.recording.jobs import ClaimedJob, JobQueue
from callcenter.recording.paths import local_path, raw_files
from callcenter.recording.voicemails import seal_voicemails, sealed_leftovers
from callcenter.recording.worker import WorkInput, WorkOutput, init_worker, process_recording
from callcenter.settings import AsteriskSettings, RecordingSettings
from callcenter.speech_model import bundled_model_dir
from hcrm_core.db import Database
from hcrm_core.models import Recording, RecordingStatus, Transcript, TranscriptTerm

_LOG = logging.getLogger(__name__)
IDLE_POLL = 5.0
# Retention runs on start-up and then hourly (also: ``callcenter recordings retention``).
RETENTION_INTERVAL = 3600.0


def processed_dir(settings: RecordingSettings, data_dir: Path) -> Path:
    """Where processed files go: ``recording.processed_dir``, else ``<data_dir>/recordings``."""
    return settings.processed_dir or data_dir / "recordings"


def model_dir(settings: RecordingSettings) -> str | None:
    """The Vosk model the workers load; None when transcription is off or no model is found."""
    if not settings.transcribe:
        return None
    chosen = settings.model_dir or bundled_model_dir()
    return str(chosen) if chosen else None


def make_pool(settings: RecordingSettings) -> ProcessPoolExecutor:
    # Spawned, not forked: the server's process holds threads (database drivers) and a loop.
    return ProcessPoolExecutor(
        max_workers=settings.workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=init_worker,
        initargs=(model_dir(settings),),
    )


class RecordingProcessor:
    def __init__(
        self,
        settings: RecordingSettings,
        database: Database,
        executor: Executor,
        *,
        asterisk: AsteriskSettings,
        data_dir: Path,
        pool_factory: Callable[[], Executor] | None = None,
    ) -> None:
        """``asterisk`` maps the files Asterisk wrote to this server's paths; processed files
        go to :func:`processed_dir` (under ``data_dir`` unless ``recording.processed_dir``)."""
        # With a factory, a pool whose worker died (killed, out of memory) is replaced;
        # without one, every later job would fail on the broken pool.
        self._pool_factory = pool_factory
        self._settings = settings
        self._asterisk = asterisk
        self._processed_dir = processed_dir(settings, data_dir)
        self._db = database
        self._executor = executor
        self.queue = JobQueue(
            database,
            lease_seconds=settings.lease_seconds,
            max_attempts=settings.max_attempts,
        )
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        # Retention is a once-per-site job: with several server processes the composition
        # root makes it the leader's (issue 18). Jobs are claimed by any process.
        self.runs_retention: Callable[[], bool] = lambda: True

    # -- lifecycle (the server runs it in the background) ------------------------------------

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="recording-processor")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def wake(self) -> None:
        """A new job was queued."""
        self._wakeup.set()

    async def _run(self) -> None:
        from callcenter.recording.retention import apply_retention

        next_retention = next_seal = 0.0
        loop = asyncio.get_running_loop()
        try:
            await self.remove_leftover_raw_files()
        except Exception as exc:  # the database is down: the next start tries again
            _LOG.warning("recording processor: leftover sweep failed (%s)", type(exc).__name__)
        while True:
            try:
                if loop.time() >= next_retention and self.runs_retention():
                    next_retention = loop.time() + RETENTION_INTERVAL
                    await apply_retention(self._settings, self._db, asterisk=self._asterisk)
                if loop.time() >= next_seal:
                    next_seal = loop.time() + IDLE_POLL
                    await self.seal_voicemails()
                worked = await self.run_one()
            except Exception as exc:  # database down: the job stays queued; try again later
                _LOG.warning("recording processor: %s; retrying", type(exc).__name__)
                worked = False
            if not worked:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), IDLE_POLL)
                self._wakeup.clear()

    # -- one job -----------------------------------------------------------------------------

    async def run_one(self) -> bool:
        """Claim and process one job; False when the queue was empty."""
        job = await self.queue.claim(self.owner)
        if job is None:
            return False
        _LOG.info(
            "recording job %s: recording %s attempt %s", job.id, job.recording_id, job.attempts
        )
        try:
            work = await self._work_for(job)
            if work is None:
                _LOG.info("recording job %s: processed before, its WAVs are gone: kept", job.id)
                await self.queue.complete(job, _unchanged)
                return True
            loop = asyncio.get_running_loop()
            output = await loop.run_in_executor(self._executor, process_recording, work)
        except BrokenExecutor as exc:
            _LOG.error("recording job %s: the worker process died; starting a new pool", job.id)
            self._replace_pool()
            await self.queue.fail(job, f"worker process died ({type(exc).__name__})")
            return True
        except Exception as exc:
            final = await self.queue.fail(job, f"{type(exc).__name__}: {exc}")
            _LOG.warning(
                "recording job %s failed (%s)%s",
                job.id,
                type(exc).__name__,
                " for good" if final else "",
            )
            return True
        try:
            await self.queue.complete(job, lambda session: self._store(session, output))
        except LeaseLost:
            _LOG.warning("recording job %s: lease lost, results dropped", job.id)
            return True
        # Committed: the encrypted copy is the recording now, the plaintext WAVs must go.
        await asyncio.to_thread(_remove_raw, job.recording_id, work.raw_files)
        return True

    async def remove_leftover_raw_files(self) -> int:
        """Delete MixMonitor files of processed recordings (a crash after the commit left them)
        and half-written outputs in the processed folder; returns how many files went."""
        async with self._db.session() as session:
            processed = list(
                await session.scalars(
                    select(Recording).where(Recording.status == RecordingStatus.PROCESSED)
                )
            )
        leftovers = [(r.id, tuple(str(p) for p in raw_files(r, self._asterisk))) for r in processed]
        voicemails = await sealed_leftovers(self._db, self._asterisk)
        leftovers.append((0, tuple(str(p) for p in voicemails)))
        return await asyncio.to_thread(_sweep, leftovers, self._processed_dir)

    async def seal_voicemails(self) -> int:
        """Encrypt the after-hours voicemails still stored as WAVs (none without a key)."""
        cipher = RecordingCipher.from_setting(self._settings.key.get_secret_value())
        if cipher is None:
            return 0
        return await seal_voicemails(
            cipher, self._db, asterisk=self._asterisk, processed=self._processed_dir
        )

    @property
    def executor(self) -> Executor:
        return self._executor

    def _replace_pool(self) -> None:
        if self._pool_factory is None:
            return
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._executor = self._pool_factory()

    async def run_backlog(self, progress: Callable[[int], Any] | None = None) -> int:
        """Process until the queue is empty (after-hours voicemails sealed first); returns the
        number of jobs handled."""
        await self.seal_voicemails()
        handled = 0
        while await self.run_one():
            handled += 1
            if progress is not None:
                progress(1)
        return handled

    async def _work_for(self, job: ClaimedJob) -> WorkInput | None:
        """What the worker needs; None for a recording processed before whose WAVs were
        deleted then (re-queued by hand): its encrypted copy is all there is, and stays."""
        async with self._db.session() as session:
            recording = await session.get(Recording, job.recording_id)
        if recording is None:
            raise LookupError(f"recording {job.recording_id} is gone")
        raws = raw_files(recording, self._asterisk)
        if recording.status is RecordingStatus.PROCESSED and not await asyncio.to_thread(
            lambda: any(p.exists() for p in raws)
        ):
            return None

        def mapped(path: str | None) -> str | None:
            return str(local_path(path, self._asterisk)) if path else None

        extension = "ogg" if self._settings.audio_format == "opus" else "mp3"
        target = self._processed_dir / f"recording-{recording.id}.{extension}"
        return WorkInput(
            recording_id=recording.id,
            raw_files=tuple(str(p) for p in raws),
            caller_wav=mapped(recording.caller_asterisk_path),
            agent_wav=mapped(recording.agent_asterisk_path),
            target=str(target),
            audio_format=self._settings.audio_format,
            key=self._settings.key.get_secret_value(),
            model_dir=model_dir(self._settings),
            redact_min_digits=self._settings.redact_min_digits,
        )

    async def _store(self, session: AsyncSession, output: WorkOutput) -> None:
        """Write the results; replaces earlier ones, so a re-run leaves one set of rows."""
        cipher = RecordingCipher.from_setting(self._settings.key.get_secret_value())
        recording = (
            await session.scalars(select(Recording).where(Recording.id == output.recording_id))
        ).one()
        await session.execute(
            delete(TranscriptTerm).where(TranscriptTerm.recording_id == recording.id)
        )
        await session.execute(delete(Transcript).where(Transcript.recording_id == recording.id))
        for side in output.transcripts:
            text, words = side.text, side.words
            if cipher is not None:
                text = cipher.encrypt_text(side.text)
                words = [{"enc": cipher.encrypt_text(_json(side.words))}]
            row = Transcript(
                recording_id=recording.id,
                speaker=side.speaker,
                text=text,
                words=words,
                encrypted=cipher is not None,
            )
            session.add(row)
            if cipher is not None:
                await session.flush()
                add_terms(session, row, cipher.index, side.text)
        extension = "ogg" if self._settings.audio_format == "opus" else "mp3"
        recording.audio_path = str(self._processed_dir / f"recording-{recording.id}.{extension}")
        recording.audio_format = self._settings.audio_format
        recording.audio_encrypted = output.encrypted
        recording.duration_seconds = output.duration_seconds
        recording.peaks = output.peaks
        recording.status = RecordingStatus.PROCESSED
        recording.processed_at = datetime.now(UTC)
        recording.error = None


def add_terms(session: AsyncSession, transcript: Transcript, index: BlindIndex, text: str) -> None:
    """Index an encrypted transcript's words (blind tokens) in the caller's transaction."""
    for token in index.tokens(text):
        session.add(
            TranscriptTerm(
                transcript_id=transcript.id, recording_id=transcript.recording_id, token=token
            )
        )


async def _unchanged(_session: AsyncSession) -> None:
    return None


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


def _remove_raw(recording_id: int, paths: tuple[str, ...]) -> int:
    removed = 0
    for path in paths:
        try:
            Path(path).unlink()
        except FileNotFoundError:
            continue
        except OSError as exc:  # kept for the next start's sweep; the log says why
            _LOG.warning(
                "recording %s: raw file %s not deleted (%s)", recording_id, path, exc.strerror
            )
            continue
        removed += 1
    return removed


def _sweep(leftovers: list[tuple[int, tuple[str, ...]]], processed: Path) -> int:
    removed = sum(_remove_raw(recording_id, paths) for recording_id, paths in leftovers)
    if processed.is_dir():
        for partial in [*processed.glob("*.plain"), *processed.glob("*.part")]:
            partial.unlink(missing_ok=True)
            removed += 1
    if removed:
        _LOG.info("recordings: %d leftover plaintext files deleted", removed)
    return removed
