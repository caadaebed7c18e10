"""Dialog helpers: the one place that handles keys, retries, silence, ``*``, ``0`` and hang-ups.

Dialogs call :meth:`Ivr.menu`, :meth:`Ivr.ask` and :meth:`Ivr.confirm` and read like the menu
map. Everywhere:

- ``*`` repeats the prompt (not counted as a failure);
- ``0`` raises :class:`ToAgent` (the caller asked for a person);
- a wrong key or silence says so and asks again; the third failure raises :class:`ToAgent`;
- a hang-up raises :class:`CallerHungUp` from the AGI layer, which ends the dialog: nothing is
  committed before the caller's last confirmation, so no partial booking is left behind.

Where a dialog passes a :class:`~callcenter.agi.listening.SpeechOffer` (``speech=``), the
caller may also say their choice after a tone: a key still works during the recording; silence
counts as a failure like silence on the keypad; speech that is not understood is apologised for
once and the same menu continues on the keypad alone.

Domain errors become a prompt in :func:`explain`, once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from callcenter.agi import prompts, speech_prompts
from callcenter.agi.channel import AgiChannel
from callcenter.agi.context import CallContext, ToAgent
from callcenter.agi.errors import SoundMissing
from callcenter.agi.listening import Heard, Outcome, SpeechOffer
from hcrm_core.errors import DomainError, SlotTaken, SlotUnavailable

T = TypeVar("T")

ANY_KEY = "0123456789*#"
AGENT_KEY = "0"
REPEAT_KEY = "*"
MAX_FAILURES = 3
TIMEOUT_MS = 5000
PAGE_SIZE = 8
MORE_KEY = "9"
SILENCE = "silence/1"  # a core sound: GET DATA waits for keys after playing it
# SayUnixTime format: "Monday November twenty third at nine a m".
DATETIME_FORMAT = "A B d 'digits/at' I M p"


@dataclass(frozen=True, slots=True)
class SayDigits:
    digits: str


@dataclass(frozen=True, slots=True)
class SayDateTime:
    moment: datetime
    timezone: str


Segment = str | SayDigits | SayDateTime


def explain(error: DomainError) -> str:
    """The prompt a caller hears for a domain error (the one translation point)."""
    if isinstance(error, (SlotTaken, SlotUnavailable)):
        return prompts.SLOT_TAKEN
    return prompts.BOOKING_FAILED


class Ivr:
    """One caller's dialog: AGI channel plus the call's context."""

    # The language the caller hears (LocalisedIvr switches it): speech input follows it.
    language: str = prompts.DEFAULT_LANGUAGE

    def __init__(self, agi: AgiChannel, call: CallContext, *, timeout_ms: int = TIMEOUT_MS) -> None:
        self.agi = agi
        self.call = call
        self.timeout_ms = timeout_ms

    async def play(self, *segments: Segment) -> None:
        """Say something the caller cannot interrupt."""
        for segment in segments:
            await self._say(segment, "")

    async def _say(self, segment: Segment, escape: str) -> str | None:
        if isinstance(segment, SayDigits):
            return await self.agi.say_digits(segment.digits, escape)
        if isinstance(segment, SayDateTime):
            return await self.agi.say_datetime(
                int(segment.moment.timestamp()),
                escape_digits=escape,
                fmt=DATETIME_FORMAT,
                timezone=segment.timezone,
            )
        try:
            return await self.agi.stream_file(segment, escape)
        except SoundMissing:
            # A name added to the database since the last `prompts build`: the caller hears
            # the rest of the menu ("... press 3") rather than losing the call.
            return None

    async def _collect(self, segments: Sequence[Segment], max_digits: int) -> str | None:
        """Play the segments (any key interrupts) and read up to ``max_digits`` keys.

        The last segment is a sound file played by GET DATA, which then waits for the keys.
        """
        *lead, last = segments
        for segment in lead:
            key = await self._say(segment, ANY_KEY)
            if key is not None:
                if max_digits == 1 or key in (REPEAT_KEY, "#"):
                    return key
                rest = await self.agi.get_data(
                    SILENCE, timeout_ms=self.timeout_ms, max_digits=max_digits - 1
                )
                return key + (rest or "")
        if not isinstance(last, str):
            raise TypeError("a prompt that waits for keys must end with a sound file")
        try:
            digits = await self.agi.get_data(
                last, timeout_ms=self.timeout_ms, max_digits=max_digits
            )
        except SoundMissing:
            digits = await self.agi.get_data(
                SILENCE, timeout_ms=self.timeout_ms, max_digits=max_digits
            )
        return digits or None

    async def _failure(self, step: str, heard: str | None) -> None:
        count = self.call.failed(step)
        self.call.enter(step, last_failure="silence" if heard is None else "invalid")
        if count >= MAX_FAILURES:
            await self.play(prompts.TOO_MANY_TRIES)
            raise ToAgent("too many failures", step)
        await self.play(prompts.INVALID)

    async def ask(
        self,
        prompt: Segment | Sequence[Segment],
        parse: Callable[[str], T | None],
        *,
        step: str,
        max_digits: int = 1,
    ) -> T:
        """Ask until ``parse`` accepts the keys (returns its value) or the caller gives up."""
        segments = _segments(prompt)
        self.call.enter(step)
        while True:
            heard = await self._collect(segments, max_digits)
            if heard == REPEAT_KEY or (heard and heard.startswith(REPEAT_KEY)):
                continue
            if heard == AGENT_KEY:
                raise ToAgent("caller asked for an agent", step)
            value = parse(heard) if heard else None
            if value is not None:
                return value
            await self._failure(step, heard)

    async def menu(
        self,
        prompt: Segment | Sequence[Segment],
        options: Mapping[str, T],
        *,
        step: str,
        speech: SpeechOffer[T] | None = None,
    ) -> T:
        """One key chooses one of ``options`` (``0`` and ``*`` are reserved); with ``speech``,
        saying one of its phrases after the tone chooses too."""
        if speech is None:
            return await self.ask(prompt, options.get, step=step, max_digits=1)
        return await self._menu_by_voice(_segments(prompt), options, speech, step=step)

    async def _menu_by_voice(
        self,
        segments: list[Segment],
        options: Mapping[str, T],
        speech: SpeechOffer[T],
        *,
        step: str,
    ) -> T:
        self.call.enter(step, speech=True)
        while True:
            heard = await self._listen(segments, speech)
            if heard.outcome is Outcome.MATCHED and heard.value is not None:
                self.call.enter(step, answered_by="speech", confidence=round(heard.confidence, 2))
                return heard.value
            if heard.outcome is Outcome.KEY and heard.key is not None:
                if heard.key == REPEAT_KEY:
                    continue
                if heard.key == AGENT_KEY:
                    raise ToAgent("caller asked for an agent", step)
                if heard.key in options:
                    return options[heard.key]
                await self._failure(step, heard.key)
            elif heard.outcome is Outcome.SILENCE:
                await self._failure(step, None)
            else:
                # Not understood (or Asterisk cannot record): say so once, then keys only.
                self.call.enter(step, speech=heard.outcome.value)
                if heard.outcome is Outcome.NOT_UNDERSTOOD:
                    await self.play(speech_prompts.NOT_UNDERSTOOD)
                return await self.ask(segments, options.get, step=step, max_digits=1)

    async def _listen(self, segments: Sequence[Segment], speech: SpeechOffer[T]) -> Heard[T]:
        """Play the menu (any key interrupts), the "say it after the tone" hint, then record."""
        for segment in (*segments, speech_prompts.SAY_AFTER_TONE):
            key = await self._say(segment, ANY_KEY)
            if key is not None:
                return Heard(Outcome.KEY, key=key)
        return await speech.listen(self.agi, escape_digits=ANY_KEY)

    async def confirm(
        self,
        prompt: Segment | Sequence[Segment],
        *,
        step: str,
        speech: SpeechOffer[bool] | None = None,
    ) -> bool:
        """1 yes, 2 no (or, with ``speech``, yes or no said after the tone)."""
        return await self.menu(prompt, {"1": True, "2": False}, step=step, speech=speech)

    async def choose(
        self,
        intro: str,
        items: Sequence[T],
        prompt_of: Callable[[T], str],
        *,
        step: str,
        speech: SpeechOffer[T] | None = None,
    ) -> T:
        """A menu built from data, eight to a page; 9 turns the page (the last wraps round).

        With ``speech``, saying an item's name chooses it from any page."""
        by_voice = speech.mapped(items.index) if speech is not None else None
        page = 0
        pages = max(1, -(-len(items) // PAGE_SIZE))
        while True:
            shown = items[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]
            segments: list[Segment] = [intro]
            options: dict[str, int] = {}
            for number, item in enumerate(shown, start=1):
                segments += [prompts.FOR, prompt_of(item), prompts.PRESS[number]]
                options[str(number)] = page * PAGE_SIZE + number - 1
            if pages > 1:
                segments.append(prompts.MORE_CHOICES)
                options[MORE_KEY] = -1  # the next page
            chosen = await self.menu(segments, options, step=step, speech=by_voice)
            if chosen >= 0:
                return items[chosen]
            page = (page + 1) % pages


def _segments(prompt: Segment | Sequence[Segment]) -> list[Segment]:
    return [prompt] if isinstance(prompt, str | SayDigits | SayDateTime) else list(prompt)
