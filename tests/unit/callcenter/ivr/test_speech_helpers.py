"""The dialog helpers with speech offered: each rule on its own, against a scripted channel and
scripted outcomes (the recogniser itself is tested with the real model in test_speech.py, and
the whole path on real calls in tests/integration/callcenter/ivr/test_speech_asterisk.py)."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, cast

import pytest

from callcenter.agi import speech_prompts
from callcenter.agi.channel import AgiChannel
from callcenter.agi.context import CallContext, ToAgent
from callcenter.agi.dialog import Ivr
from callcenter.agi.listening import Heard, Outcome
from callcenter.bus import EventBus
from callcenter.ivr import prompts
from callcenter.ivr.speech_input import SpeechOffer


class FakeAgi:
    def __init__(self, keys: list[str | None]) -> None:
        self.keys = deque(keys)
        self.played: list[str] = []
        self.asked: list[str] = []
        self.env = SimpleNamespace(caller_id="2125550142")

    async def stream_file(self, prompt: str, escape_digits: str = "") -> str | None:
        self.played.append(prompt)
        return None

    async def get_data(self, prompt: str, *, timeout_ms: int, max_digits: int) -> str | None:
        self.asked.append(prompt)
        return self.keys.popleft()


@dataclass
class ScriptedSpeech:
    """Stands in for a SpeechOffer: each listen() returns the next scripted outcome."""

    outcomes: deque[Heard[Any]]
    convert: Callable[[Any], Any] = lambda value: value
    listened: int = 0

    def mapped(self, convert: Callable[[Any], Any]) -> ScriptedSpeech:
        self.convert = convert
        return self

    async def listen(self, agi: object, *, escape_digits: str) -> Heard[Any]:
        self.listened += 1
        heard = self.outcomes.popleft()
        if heard.value is not None:
            return Heard(heard.outcome, value=self.convert(heard.value), confidence=1.0)
        return heard


class Published:
    def __init__(self) -> None:
        self.items: list[Any] = []

    def publish(self, item: object) -> None:
        self.items.append(item)


def make(keys: list[str | None], *outcomes: Heard[Any]) -> tuple[Ivr, FakeAgi, ScriptedSpeech]:
    agi = FakeAgi(keys)
    bus = Published()
    ivr = Ivr(cast(AgiChannel, agi), CallContext("1700000000.1", cast(EventBus, bus)))
    return ivr, agi, ScriptedSpeech(deque(outcomes))


def offer(speech: ScriptedSpeech) -> SpeechOffer[Any]:
    return cast(SpeechOffer[Any], speech)


async def test_a_phrase_said_answers_the_menu() -> None:
    ivr, agi, speech = make([], Heard(Outcome.MATCHED, value=True))
    assert await ivr.confirm(prompts.CONFIRM_SLOT, step="book-confirm", speech=offer(speech))
    assert agi.played == [prompts.CONFIRM_SLOT, speech_prompts.SAY_AFTER_TONE]
    assert agi.asked == []


async def test_said_no_is_false() -> None:
    ivr, _, speech = make([], Heard(Outcome.MATCHED, value=False))
    assert await ivr.confirm(prompts.CONFIRM_SLOT, step="c", speech=offer(speech)) is False


async def test_a_key_during_the_recording_is_a_key() -> None:
    ivr, _, speech = make([], Heard(Outcome.KEY, key="2"))
    assert await ivr.confirm(prompts.CONFIRM_SLOT, step="c", speech=offer(speech)) is False
    ivr, _, speech = make([], Heard(Outcome.KEY, key="0"))
    with pytest.raises(ToAgent):
        await ivr.confirm(prompts.CONFIRM_SLOT, step="c", speech=offer(speech))


async def test_silence_is_a_failure_and_three_reach_an_agent() -> None:
    silence: Heard[Any] = Heard(Outcome.SILENCE)
    ivr, agi, speech = make([], silence, silence, silence)
    with pytest.raises(ToAgent) as raised:
        await ivr.confirm(prompts.CONFIRM_SLOT, step="c", speech=offer(speech))
    assert raised.value.reason == "too many failures"
    assert speech.listened == 3
    assert agi.played.count(prompts.INVALID) == 2


async def test_not_understood_is_said_once_then_keys_only() -> None:
    ivr, agi, speech = make(["7", "1"], Heard(Outcome.NOT_UNDERSTOOD, confidence=0.4))
    assert await ivr.confirm(prompts.CONFIRM_SLOT, step="c", speech=offer(speech)) is True
    assert speech.listened == 1
    assert agi.played.count(speech_prompts.NOT_UNDERSTOOD) == 1
    assert agi.asked == [prompts.CONFIRM_SLOT, prompts.CONFIRM_SLOT]  # keypad from then on
    assert ivr.call.failures == {"c": 1}  # the wrong key, not the speech


async def test_recording_unavailable_goes_to_the_keypad_silently() -> None:
    ivr, agi, speech = make(["1"], Heard(Outcome.UNAVAILABLE))
    assert await ivr.confirm(prompts.CONFIRM_SLOT, step="c", speech=offer(speech)) is True
    assert speech_prompts.NOT_UNDERSTOOD not in agi.played


async def test_an_item_said_is_chosen_from_any_page() -> None:
    items = [f"dept-{n}" for n in range(12)]  # two pages of eight
    ivr, agi, speech = make([], Heard(Outcome.MATCHED, value="dept-10"))
    chosen = await ivr.choose(
        prompts.DEPARTMENTS_INTRO,
        items,
        lambda d: f"callcenter/{d}",
        step="d",
        speech=offer(speech),
    )
    assert chosen == "dept-10"
    assert "callcenter/dept-10" not in agi.played  # it was on the second page
