"""The browser file: the caller on the left, the agent on the right (pydub + ffmpeg).

CPU-bound: runs in a worker process (see ``worker.py``), never on the event loop.
"""

from __future__ import annotations

import os
from array import array
from dataclasses import dataclass
from pathlib import Path

import lameenc
from pydub import AudioSegment

PEAK_BUCKETS = 800
# Opus in Ogg (through an ffmpeg process per file) plays in every current browser.
_OPUS = {"format": "ogg", "codec": "libopus", "bitrate": "32k"}
# MP3 is encoded in-process with LAME (lameenc): no process start per file, which costs more
# than encoding a short call. 32 kb/s stereo is plenty for 8 kHz speech.
MP3_KBPS = 32
MP3_CODEC_DELAY = 1105  # samples
MEDIA_TYPES = {"opus": "audio/ogg", "mp3": "audio/mpeg"}


@dataclass(frozen=True, slots=True)
class StereoResult:
    duration_seconds: float
    peaks: list[float]


def load_side(path: Path | None) -> AudioSegment | None:
    """One direction as 16-bit mono, or None when the file is missing or holds no audio."""
    if path is None or not path.exists() or path.stat().st_size <= 44:
        return None
    segment = AudioSegment.from_file(path).set_channels(1).set_sample_width(2)
    return segment if len(segment) > 0 else None


def stereo(caller: AudioSegment | None, agent: AudioSegment | None) -> AudioSegment:
    """Both sides as one stereo segment; a missing side becomes silence of the same length."""
    present = [s for s in (caller, agent) if s is not None]
    if not present:
        raise ValueError("neither side of the recording holds audio")
    rate = max(s.frame_rate for s in present)
    length = max(len(s) for s in present)

    def fit(side: AudioSegment | None) -> AudioSegment:
        if side is None:
            return AudioSegment.silent(duration=length, frame_rate=rate)
        side = side.set_frame_rate(rate)
        if len(side) < length:
            side += AudioSegment.silent(duration=length - len(side), frame_rate=rate)
        return side[:length]

    left, right = fit(caller), fit(agent)
    # from_mono_audiosegments needs equal frame counts, not just equal milliseconds.
    frames = min(int(left.frame_count()), int(right.frame_count()))
    left = left._spawn(left.raw_data[: frames * 2])
    right = right._spawn(right.raw_data[: frames * 2])
    return AudioSegment.from_mono_audiosegments(left, right)


def peaks(segment: AudioSegment, buckets: int = PEAK_BUCKETS) -> list[float]:
    """The waveform: the loudest sample of each bucket (both channels), 0..1."""
    samples = array("h", segment.raw_data)
    if not samples:
        return []
    per_bucket = max(1, -(-len(samples) // buckets))
    full_scale = float(1 << 15)
    out = []
    for start in range(0, len(samples), per_bucket):
        window = samples[start : start + per_bucket]
        out.append(round(max(max(window), -min(window)) / full_scale, 3))
    return out


def export(segment: AudioSegment, target: Path, audio_format: str) -> None:
    """Encode ``segment`` into ``target`` atomically (a crash leaves no half file there)."""
    partial = target.with_name(target.name + ".part")
    if audio_format == "mp3":
        partial.write_bytes(_mp3(segment))
    else:
        segment.export(
            partial, format=_OPUS["format"], codec=_OPUS["codec"], bitrate=_OPUS["bitrate"]
        )
    os.replace(partial, target)


def _mp3(segment: AudioSegment) -> bytes:
    encoder = lameenc.Encoder()
    encoder.set_bit_rate(MP3_KBPS)
    encoder.set_in_sample_rate(segment.frame_rate)
    encoder.set_channels(segment.channels)
    encoder.set_quality(5)
    # LAME's encoder delay plus the decoder's (576 + 529 samples) come out as silence before
    # the audio, and without a gapless tag every browser plays it. Dropping as many samples
    # from the start keeps the file's timeline on the call's: a word at 1.0 s in the
    # transcript plays at 1.0 s, and the length is the call's plus at most one frame.
    skip = MP3_CODEC_DELAY * segment.frame_width
    return bytes(encoder.encode(segment.raw_data[skip:]) + encoder.flush())


def make_stereo_file(
    caller: AudioSegment | None, agent: AudioSegment | None, target: Path, audio_format: str
) -> StereoResult:
    both = stereo(caller, agent)
    export(both, target, audio_format)
    return StereoResult(duration_seconds=len(both) / 1000.0, peaks=peaks(both))
