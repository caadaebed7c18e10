"""Speech recognition with Vosk, restricted to a grammar of the choices on offer.

No telephony here (``callcenter.ivr.speech_input`` records the caller): a model loaded once per
process, grammars of phrases -> values, and a recogniser that accepts a phrase only when the
whole transcript is that phrase and every word's confidence reaches the threshold. The model
itself is loaded by :mod:`callcenter.speech_model` (shared with the recordings transcriber).

Why so strict: a grammar-restricted recogniser forces every sound onto the words it knows, so
"thank you" can come out as a department name. A transcript that is not exactly one phrase, or
a word below the confidence threshold, is treated as not understood (the caller uses the keypad).
"""

from __future__ import annotations

import json
import logging
import wave
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from callcenter.speech_model import load_model

_LOG = logging.getLogger(__name__)
T = TypeVar("T")
U = TypeVar("U")
# Kaldi's "unknown word" token: models that have it absorb out-of-grammar speech into it.
UNKNOWN_WORD = "[unk]"


def normalise(text: str) -> str:
    """A phrase as Vosk spells its transcript: lower case, single spaces."""
    return " ".join(text.lower().split())


@dataclass(frozen=True, slots=True)
class Grammar(Generic[T]):
    """The phrases a caller may say at one prompt, each meaning one value."""

    phrases: Mapping[str, T]

    @classmethod
    def of(cls, pairs: Iterable[tuple[str, T]]) -> Grammar[T]:
        """Phrases from (text, value) pairs; a phrase claimed by two values is dropped."""
        phrases: dict[str, T] = {}
        ambiguous: set[str] = set()
        for text, value in pairs:
            phrase = normalise(text)
            if not phrase or phrase in ambiguous:
                continue
            if phrase in phrases and phrases[phrase] != value:
                ambiguous.add(phrase)
                del phrases[phrase]
                continue
            phrases[phrase] = value
        return cls(phrases)

    def mapped(self, convert: Callable[[T], U]) -> Grammar[U]:
        return Grammar({phrase: convert(value) for phrase, value in self.phrases.items()})

    def __bool__(self) -> bool:
        return bool(self.phrases)


@dataclass(frozen=True, slots=True)
class Recognition:
    """What Vosk heard: the transcript and each word's confidence (0..1)."""

    text: str
    words: tuple[tuple[str, float], ...] = field(default=())

    @property
    def confidence(self) -> float:
        """The weakest word's confidence (0 when nothing was heard)."""
        return min((conf for _, conf in self.words), default=0.0)

    @classmethod
    def from_json(cls, raw: str) -> Recognition:
        result = json.loads(raw)
        words = tuple(
            (str(w.get("word", "")), float(w.get("conf", 0.0))) for w in result.get("result", [])
        )
        return cls(text=normalise(str(result.get("text", ""))), words=words)


def match(recognition: Recognition, grammar: Grammar[T], min_confidence: float) -> T | None:
    """The value of the phrase heard, if the whole transcript is one phrase said confidently."""
    if recognition.text not in grammar.phrases:
        return None
    if recognition.confidence < min_confidence:
        return None
    return grammar.phrases[recognition.text]


class Recognizer:
    """Recognises short recordings against a grammar with one loaded model (thread-safe:
    each call makes its own Kaldi recogniser; the model is shared read-only)."""

    def __init__(self, model: Any, *, filler_words: Iterable[str] = ()) -> None:
        self._model = model
        fillers = [normalise(w) for w in (*filler_words, UNKNOWN_WORD)]
        self._fillers = [w for w in dict.fromkeys(fillers) if self.knows(w)]

    @classmethod
    def from_dir(cls, path: Path, *, filler_words: Iterable[str] = ()) -> Recognizer:
        """Blocking (loads the model on first use in this process)."""
        return cls(load_model(path), filler_words=filler_words)

    def knows(self, phrase: str) -> bool:
        """Every word of ``phrase`` is in the model's vocabulary."""
        words = normalise(phrase).split()
        return bool(words) and all(self._model.vosk_model_find_word(w) >= 0 for w in words)

    def restrict(self, grammar: Grammar[T]) -> Grammar[T]:
        """The phrases this model can hear (names in other languages are dropped)."""
        return Grammar({p: v for p, v in grammar.phrases.items() if self.knows(p)})

    def recognize_pcm(self, pcm: bytes, sample_rate: int, grammar: Grammar[Any]) -> Recognition:
        """Blocking: 16-bit mono PCM against the grammar's phrases (plus filler words)."""
        import vosk

        words = [*grammar.phrases, *(f for f in self._fillers if f not in grammar.phrases)]
        recognizer = vosk.KaldiRecognizer(
            self._model, sample_rate, json.dumps(words, ensure_ascii=False)
        )
        recognizer.SetWords(True)
        recognizer.AcceptWaveform(pcm)
        return Recognition.from_json(recognizer.FinalResult())

    def recognize_file(self, path: Path, grammar: Grammar[Any]) -> Recognition:
        """Blocking: a WAV file (Asterisk's ``wav``: 8 kHz, 16-bit, mono) against the grammar."""
        with wave.open(str(path), "rb") as audio:
            if audio.getsampwidth() != 2 or audio.getnchannels() != 1:
                raise ValueError(f"{path.name}: expected 16-bit mono WAV")
            rate = audio.getframerate()
            pcm = audio.readframes(audio.getnframes())
        return self.recognize_pcm(pcm, rate, grammar)
