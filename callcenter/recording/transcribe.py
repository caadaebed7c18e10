"""Speech to text with Vosk, one side at a time, with word timings (``SetWords(True)``).

The model takes seconds to load: each worker process loads it once
(:func:`callcenter.speech_model.load_model`, from the pool's initializer).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from pydub import AudioSegment

_LOG = logging.getLogger(__name__)
RATE = 16000
_FEED_BYTES = 8000  # a quarter second of 16 kHz 16-bit audio per AcceptWaveform


def transcribe(segment: AudioSegment, model: Any) -> list[dict[str, Any]]:
    """Words of one mono side: [{"word", "start", "end", "conf"}], times in seconds."""
    import vosk

    audio = segment.set_channels(1).set_sample_width(2).set_frame_rate(RATE)
    recognizer = vosk.KaldiRecognizer(model, RATE)
    recognizer.SetWords(True)
    raw = audio.raw_data
    words: list[dict[str, Any]] = []
    for start in range(0, len(raw), _FEED_BYTES):
        if recognizer.AcceptWaveform(raw[start : start + _FEED_BYTES]):
            words.extend(_words(recognizer.Result()))
    words.extend(_words(recognizer.FinalResult()))
    return words


def _words(result_json: str) -> list[dict[str, Any]]:
    result = json.loads(result_json)
    return [
        {
            "word": str(item["word"]),
            "start": round(float(item["start"]), 2),
            "end": round(float(item["end"]), 2),
            "conf": round(float(item.get("conf", 1.0)), 2),
        }
        for item in result.get("result", [])
    ]
