"""Dialog helpers: the one place that handles keys, retries, silence, ``*``, ``0`` and hang-ups.

Dialogs call :meth:`Ivr.menu`, :meth:`Ivr.ask` and :meth:`Ivr.confirm` and read like the menu
map. Everywhere:

- ``*`` repeats the prompt (not counted as a failure);
- ``0`` raises :class:`ToAgent` (the caller asked for a person);
- a wrong key or silence says so and asks again; the third failure raises :class:`ToAgent`;
- a hang-up raises :class:`CallerHungUp` from the AGI layer, which ends the dialog: nothing is
  committed before the caller's last confirmation, so no partial booking is left behind.

Domain errors become a prompt in :func:`explain`, once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from callcenter.ivr import prompts
from callcenter.ivr.agi import AgiChannel
from callcenter.ivr.context import CallContext, ToAgent
from callcenter.ivr.errors import SoundMissing
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
        segments: list[Segment] = (
            [prompt] if isinstance(prompt, str | SayDigits | SayDateTime) else list(prompt)
        )
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
        self, prompt: Segment | Sequence[Segment], options: Mapping[str, T], *, step: str
    ) -> T:
        """One key chooses one of ``options`` (``0`` and ``*`` are reserved)."""
        return await self.ask(prompt, options.get, step=step, max_digits=1)

    async def confirm(self, prompt: Segment | Sequence[Segment], *, step: str) -> bool:
        """1 yes, 2 no."""
        return await self.menu(prompt, {"1": True, "2": False}, step=step)

    async def choose(
        self,
        intro: str,
        items: Sequence[T],
        prompt_of: Callable[[T], str],
        *,
        step: str,
    ) -> T:
        """A menu built from data, eight to a page; 9 turns the page (the last wraps round)."""
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
            chosen = await self.menu(segments, options, step=step)
            if chosen >= 0:
                return items[chosen]
            page = (page + 1) % pages
