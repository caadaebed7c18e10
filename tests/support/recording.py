"""Helpers for the recording tests: speech files, settings, a service wired to a rig."""

from __future__ import annotations

import hashlib
import subprocess
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from pydantic import SecretStr
from pydub import AudioSegment

from callcenter.agi.prompt_audio import sounds_language_dir
from callcenter.recording.crypto import generate_key
from callcenter.recording.processor import make_pool
from callcenter.settings import Settings

CALLER_TEXT = "안녕하세요 저는 내일 오전에 내과 예약을 하고 싶습니다"
AGENT_TEXT = "네 종합병원 예약 센터입니다 무엇을 도와드릴까요"


def speak(text: str, target: Path, rate: int = 8000) -> Path:
    """espeak-ng Korean speech as a mono 16-bit WAV at ``rate`` (what Asterisk plays)."""
    raw = target.with_suffix(".raw.wav")
    subprocess.run(["espeak-ng", "-v", "ko", "-w", str(raw), text], check=True)
    AudioSegment.from_wav(raw).set_frame_rate(rate).set_channels(1).export(target, format="wav")
    raw.unlink()
    return target


def sandbox_sound(settings: Settings, text: str) -> str:
    """Install ``text`` as a sound in the sandbox; returns its Playback() name."""
    name = "rectest-" + hashlib.sha256(text.encode()).hexdigest()[:12]
    target = sounds_language_dir(settings, sandbox=True) / f"{name}.wav"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        speak(text, target)
    return name


def recording_settings(base: Settings, tmp: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "processed_dir": tmp / "processed",
        "key": SecretStr(generate_key()),
        "workers": 1,
        **overrides,
    }
    return base.model_copy(
        update={"recording": base.recording.model_copy(update=values), "data_dir": tmp}
    )


def pool_for(settings: Settings) -> ProcessPoolExecutor:
    return make_pool(settings.recording)
