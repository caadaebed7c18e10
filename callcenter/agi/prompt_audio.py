"""Render prompts to sound files Asterisk plays: Piper or espeak-ng -> pydub -> 8 kHz WAV.

Each prompt becomes ``<sounds>/<language>/<name>.wav`` (8 kHz, mono, 16-bit: Asterisk's ``wav``
format, played without transcoding on narrowband calls), spoken by the language's voice
(:mod:`callcenter.agi.voices`: Piper's ``en_US-joe-medium`` for English, espeak-ng's ``cmn`` for
Mandarin) and brought to one loudness, so no prompt is quieter than the next. Both languages
also get the ``digits/`` files Asterisk's ``SAY`` needs, so numbers and dates are said by the
prompts' own voice. A manifest beside the files stores a hash of each prompt's text and voice,
so a rebuild only renders what changed.

The renderer of every catalogue: the IVR's (``ivr/build_prompts.py``) and the
campaign dialogs' (``callcenter campaign prompts``).
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from pydub import AudioSegment

from callcenter.agi import voices
from callcenter.agi.channel import sound
from callcenter.agi.prompts import Spoken
from callcenter.errors import CallcenterError
from callcenter.settings import Settings

_LOG = logging.getLogger(__name__)

MANIFEST = ".callcenter-prompts.json"
VOICE = voices.PIPER_ENGLISH
SAMPLE_RATE = 8000
# Every prompt is brought to this active speech level (dBFS over its 20 ms stretches louder
# than SILENCE_DBFS, pauses left out), its peaks kept under PEAK_DBFS: a quiet voice would be
# lost on a phone line, a loud one clips after the codec.
TARGET_DBFS = -21.0
PEAK_DBFS = -1.0
SILENCE_DBFS = -50.0
# Where Debian's Asterisk keeps its sounds, as Asterisk sees them.
DEFAULT_SOUNDS_DIR = PurePosixPath("/usr/share/asterisk/sounds")


class PromptBuildError(CallcenterError):
    """The TTS engine or the conversion failed; the message names the prompt."""


@dataclass(frozen=True, slots=True)
class BuildResult:
    rendered: list[str]
    skipped: list[str]
    out_dir: Path


def _resolve_in_root(root: Path, inside: PurePosixPath) -> Path:
    """Follow symlinks the way the chroot sees them (Debian links sounds/en to
    /etc/alternatives/..., an absolute path inside the chroot)."""
    current = root
    for part in inside.relative_to("/").parts:
        current = current / part
        for _ in range(16):
            if not current.is_symlink():
                break
            target = PurePosixPath(os.readlink(current))
            current = (
                root / target.relative_to("/")
                if target.is_absolute()
                else current.parent / str(target)
            )
    return current


def sounds_language_dir(settings: Settings, *, sandbox: bool, language: str = "en") -> Path:
    """The host path of Asterisk's ``sounds/<language>`` directory (configured or sandbox)."""
    if sandbox:
        from callcenter.asterisk.sandbox import AsteriskSandbox

        root = AsteriskSandbox(settings).root
        return _resolve_in_root(root, DEFAULT_SOUNDS_DIR / language)
    base = settings.asterisk.sounds_dir or Path(str(DEFAULT_SOUNDS_DIR))
    return Path(base) / language


# Prompts are no secret and Asterisk must read them, whatever user it runs as.
PROMPT_FILE_MODE = 0o644
PROMPT_DIR_MODE = 0o755


def _digest(text: str, voice: str) -> str:
    return hashlib.sha256(f"{voice}|{SAMPLE_RATE}|{TARGET_DBFS}|{text}".encode()).hexdigest()[:16]


def active_level(audio: AudioSegment) -> float | None:
    """The speech level of ``audio`` in dBFS, its pauses left out; None for silence."""
    stretches = [chunk for chunk in audio[::20] if chunk.dBFS > SILENCE_DBFS]
    if not stretches:
        return None
    power = sum(chunk.rms**2 for chunk in stretches) / len(stretches)
    return 10 * math.log10(power / audio.max_possible_amplitude**2)


def telephone_audio(audio: AudioSegment) -> AudioSegment:
    """``audio`` as an 8 kHz mono 16-bit line signal at :data:`TARGET_DBFS` speech level."""
    audio = audio.set_frame_rate(SAMPLE_RATE).set_channels(1).set_sample_width(2)
    level = active_level(audio)
    if level is None:
        return audio  # silence stays silence
    return audio.apply_gain(min(TARGET_DBFS - level, PEAK_DBFS - audio.max_dBFS))


# The same text is often rendered into several directories by one process (the sandbox's and
# a test's, each language's SAY files): a neural voice takes a fifth of a second a prompt.
@functools.lru_cache(maxsize=2048)
def _line_audio(text: str, voice: str) -> AudioSegment:
    return telephone_audio(voices.speak(text, voice))


def _render_one(name: str, text: str, target: Path, voice: str) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        audio = _line_audio(text, voice)
    except voices.VoiceError as exc:
        raise PromptBuildError(f"{name}: {exc}") from exc
    partial = target.with_name(target.name + ".part")
    audio.export(partial, format="wav")
    # Asterisk (often its own user) plays these; the CLI's umask would make them private.
    os.chmod(partial, PROMPT_FILE_MODE)
    partial.replace(target)


def build_prompts(
    prompts: Mapping[str, str | Spoken],
    out_dir: Path,
    *,
    voice: str = VOICE,
    on_progress: Callable[[str], None] | None = None,
) -> BuildResult:
    """Render every prompt whose text changed since the last build into ``out_dir``.

    A plain text is spoken by ``voice`` (``engine:name``, :mod:`callcenter.agi.voices`); a
    :class:`Spoken` by its own language's voice."""
    if not out_dir.is_dir():
        out_dir.mkdir(parents=True)
        os.chmod(out_dir, PROMPT_DIR_MODE)
    manifest_path = out_dir / MANIFEST
    try:
        manifest: dict[str, str] = json.loads(manifest_path.read_text())
    except (FileNotFoundError, ValueError):
        manifest = {}
    rendered: list[str] = []
    skipped: list[str] = []
    try:
        for name, entry in prompts.items():
            text, speaker = (
                (entry.text, voices.voice_for(entry.voice))
                if isinstance(entry, Spoken)
                else (entry, voice)
            )
            target = out_dir / f"{sound(name)}.wav"
            digest = _digest(text, speaker)
            if manifest.get(name) == digest and target.exists():
                skipped.append(name)
            else:
                _render_one(name, text, target, speaker)
                manifest[name] = digest
                rendered.append(name)
            if on_progress is not None:
                on_progress(name)
    finally:
        manifest_path.write_text(json.dumps(manifest, indent=1, sort_keys=True))
    _LOG.info("prompts: %d rendered, %d unchanged in %s", len(rendered), len(skipped), out_dir)
    return BuildResult(rendered, skipped, out_dir)
