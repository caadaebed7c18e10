"""The work done in a worker process for one recording: stereo file, waveform, transcripts.

Everything crosses the process boundary as plain picklable data. Outputs are written under
names derived from the recording id and replaced atomically, so running a job twice (after a
crash) gives the same files, never a second copy. The processed file is made durable (file and
folder synced) and checked (decrypted and compared with what was encrypted) before the job
reports success: only then may the processor delete MixMonitor's plaintext WAVs.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from callcenter.recording.audio import load_side, make_stereo_file
from callcenter.recording.crypto import RecordingCipher, file_digest, fsync_dir
from callcenter.recording.redact import redact_words, words_text
from callcenter.recording.transcribe import transcribe
from callcenter.speech_model import load_model

SPEAKERS = ("caller", "agent")


@dataclass(frozen=True, slots=True)
class WorkInput:
    recording_id: int
    raw_files: tuple[str, ...]  # MixMonitor's WAVs, deleted once the results are committed
    caller_wav: str | None
    agent_wav: str | None
    target: str  # the processed file (encrypted in place when a key is given)
    audio_format: str
    key: str = ""
    model_dir: str | None = None
    redact_min_digits: int = 6


@dataclass(slots=True)
class SideTranscript:
    speaker: str
    text: str
    words: list[dict[str, Any]]


@dataclass(slots=True)
class WorkOutput:
    recording_id: int
    duration_seconds: float
    peaks: list[float]
    encrypted: bool
    transcripts: list[SideTranscript] = field(default_factory=list)
    transcode_seconds: float = 0.0
    transcribe_seconds: dict[str, float] = field(default_factory=dict)


def init_worker(model_dir: str | None) -> None:
    """Process-pool initializer: load the Vosk model once for the life of the process."""
    if model_dir:
        load_model(model_dir)


def process_recording(work: WorkInput) -> WorkOutput:
    """Make the browser file and the transcripts of one recording (CPU-bound)."""
    caller = load_side(Path(work.caller_wav) if work.caller_wav else None)
    agent = load_side(Path(work.agent_wav) if work.agent_wav else None)
    target = Path(work.target)
    target.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    cipher = RecordingCipher.from_setting(work.key)
    plain_target = target if cipher is None else target.with_name(target.name + ".plain")
    result = make_stereo_file(caller, agent, plain_target, work.audio_format)
    if cipher is not None:
        _encrypt_verified(cipher, plain_target, target)
    else:
        _make_durable(target)
    output = WorkOutput(
        work.recording_id,
        result.duration_seconds,
        result.peaks,
        encrypted=cipher is not None,
        transcode_seconds=time.perf_counter() - started,
    )
    if work.model_dir:
        model = load_model(work.model_dir)
        for speaker, side in zip(SPEAKERS, (caller, agent), strict=True):
            if side is None:
                continue
            began = time.perf_counter()
            words = redact_words(transcribe(side, model), work.redact_min_digits)
            output.transcribe_seconds[speaker] = time.perf_counter() - began
            output.transcripts.append(SideTranscript(speaker, words_text(words), words))
    return output


class ProcessedCopyMismatch(RuntimeError):
    """The encrypted file does not decrypt to what was encrypted: the raw files are kept."""


def _encrypt_verified(cipher: RecordingCipher, plain: Path, target: Path) -> None:
    expected = file_digest(plain)
    cipher.encrypt_file(plain, target)  # synced and renamed into place
    if cipher.plaintext_digest(target) != expected:
        raise ProcessedCopyMismatch(f"{target.name} does not decrypt to the processed audio")
    plain.unlink()


def _make_durable(target: Path) -> None:
    with target.open("rb") as handle:
        os.fsync(handle.fileno())
    fsync_dir(target.parent)
