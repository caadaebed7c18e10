"""What the dialog helpers need of speech input: the outcome of listening, and an offer to listen.

The recogniser itself (Vosk, grammars, recordings) is the IVR's
(``ivr/speech_input.py``); the kit only plays the menu, asks the offer to listen and
acts on the :class:`Heard` outcome.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

if TYPE_CHECKING:
    from callcenter.agi.channel import AgiChannel

T = TypeVar("T")
U = TypeVar("U")


class Outcome(enum.Enum):
    KEY = "key"  # a key was pressed during the recording
    MATCHED = "matched"  # one of the phrases, said confidently
    SILENCE = "silence"  # nothing said
    NOT_UNDERSTOOD = "not-understood"  # speech, but not one phrase or not confident enough
    UNAVAILABLE = "unavailable"  # Asterisk could not record: keypad only


@dataclass(frozen=True, slots=True)
class Heard(Generic[T]):
    outcome: Outcome
    key: str | None = None
    value: T | None = None
    confidence: float = 0.0


class SpeechOffer(Protocol[T]):
    """The phrases a caller may say at one prompt, each meaning a value, and how to hear them."""

    # Any, not SpeechOffer[U]: mypy cannot match a generic method of a recursive protocol.
    def mapped(self, convert: Callable[[T], U]) -> SpeechOffer[Any]:
        """The same phrases meaning ``convert(value)``."""
        ...

    async def listen(self, agi: AgiChannel, *, escape_digits: str) -> Heard[T]:
        """Record the caller after a tone and say what they said (a key ends it early)."""
        ...


class SpeechService(Protocol):
    """The speech input a FastAGI server owns: stopped after its last session."""

    async def stop(self) -> None: ...
