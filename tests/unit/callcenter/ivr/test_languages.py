"""Both languages: the catalogue is complete, Mandarin has every file Asterisk's SAY needs,
names are spoken per language, and the caller's language is chosen and set on the channel."""

from __future__ import annotations

import shutil
import wave
from collections import deque
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import pytest

from callcenter.agi import core_sounds_en, core_sounds_zh
from callcenter.agi.channel import AgiChannel, sound
from callcenter.agi.context import CallContext, ToAgent
from callcenter.agi.dialog import DATETIME_FORMAT, SayDateTime
from callcenter.agi.localised import LANGUAGE_VARIABLE, LocalisedIvr, datetime_format
from callcenter.agi.prompt_audio import MANIFEST, build_prompts
from callcenter.bus import EventBus
from callcenter.ivr import prompts
from callcenter.ivr.build_prompts import language_prompts, localised_database_prompts
from callcenter.ivr.flows.language import choose_language, known_language
from hcrm_core.models import Department, Doctor, Patient
from tests.conftest import require_or_skip

_CJK = range(0x4E00, 0xA000)


def _has_cjk(text: str) -> bool:
    return any(ord(ch) in _CJK for ch in text)


# -- the catalogue ------------------------------------------------------------------------------


def test_every_prompt_has_an_english_and_a_mandarin_text() -> None:
    english, mandarin = prompts.TEXTS["en"], prompts.TEXTS["zh"]
    assert set(english) == set(mandarin)
    for name in english:
        assert sound(name) == name
        assert english[name].strip() and not _has_cjk(english[name]), name
        assert _has_cjk(mandarin[name]), f"{name} is not translated"


def test_language_menu_is_in_every_directory_each_part_in_its_own_voice() -> None:
    for language in prompts.LANGUAGES:
        spoken = prompts.catalogue(language)
        assert spoken[prompts.CHOOSE_ENGLISH].voice == "en"
        assert spoken[prompts.CHOOSE_MANDARIN].voice == "zh"
        assert _has_cjk(spoken[prompts.CHOOSE_MANDARIN].text)
        assert spoken[prompts.WELCOME].voice == language


# -- what Asterisk's say.c asks for in zh ---------------------------------------------------------


def _two_part(n: int) -> list[str]:
    """say.c zh for d, I, k, M, S: one file below 10 or on a ten, else the ten then the unit."""
    if n < 10 or n % 10 == 0:
        return [f"digits/{n}"]
    return [f"digits/{n - n % 10}", f"digits/{n % 10}"]


def _zh_datetime_files() -> set[str]:
    """Every file ast_say_date_with_format_zh can play for the formats the IVR uses (and S)."""
    files = {f"digits/day-{d}" for d in range(7)} | {f"digits/mon-{m}" for m in range(12)}
    files |= {"digits/day", "digits/oclock", "digits/a-m", "digits/p-m", "minute", "second"}
    for day in range(1, 32):
        files.update(_two_part(day))
    for hour in range(24):
        files.add(f"digits/{hour % 12 or 12}")  # I: the 12-hour clock, one file
        files.update(_two_part(hour))  # k
    for minute in range(60):
        files.update(["digits/0", *_two_part(minute)])  # M (S alike)
    return files


def _zh_number_files(number: int) -> set[str]:
    """The files ast_say_number_full_zh plays for ``number`` (0 < number < 10^9)."""
    files: set[str] = set()
    for unit, name in ((100_000_000, "digits/yi"), (10_000, "digits/wan")):
        if number >= unit:
            files |= _zh_number_files(number // unit) | {name}
            number %= unit
    for unit, name in ((1000, "digits/thousand"), (100, "digits/hundred"), (10, "")):
        if number >= unit:
            head = number // unit
            files.add(f"digits/{head * unit}" if unit == 10 else f"digits/{head}")
            if name:
                files.add(name)
            number %= unit
            if number and number < unit // 10:
                files.add("digits/0")
    if number:
        files.add(f"digits/{number}")
    return files


def test_mandarin_core_sounds_cover_says_dates_numbers_and_digits() -> None:
    available = set(core_sounds_zh.say_files())
    assert _zh_datetime_files() <= available, _zh_datetime_files() - available
    for number in (*range(1, 2001), 10_005, 99_999, 120_000, 300_000_000):
        assert _zh_number_files(number) <= available, number
    keypad = {f"digits/{d}" for d in "0123456789"} | {"digits/star", "digits/pound"}
    assert keypad <= available
    assert {"digits/minus", "digits/year", "digits/today", "digits/yesterday"} <= available


def test_mandarin_core_sound_texts_are_chinese() -> None:
    files = core_sounds_zh.say_files()
    assert files["digits/20"] == "二十" and "digits/21" not in files  # 21 is "20" then "1"
    assert files["digits/mon-10"] == "十一月" and files["digits/day-0"] == "星期日"
    assert files["digits/11"] == "十一" and files["digits/0"] == "零"
    assert all(_has_cjk(text) for text in files.values())


# -- names and building -------------------------------------------------------------------------


def _hospital_names() -> tuple[list[Department], list[Doctor]]:
    cardiology = Department(code="CARD", name="Cardiology", names={"zh": "心内科"})
    skin = Department(code="DERM", name="Dermatology", names={})
    doctor = Doctor(id=7, title="Dr.", given_name="Ada", family_name="Heart", department_id=1)
    return [cardiology, skin], [doctor]


def test_names_are_spoken_in_each_language() -> None:
    departments, doctors = _hospital_names()
    english = localised_database_prompts("en", departments, doctors)
    mandarin = localised_database_prompts("zh", departments, doctors)
    card, derm, doctor = (
        "callcenter/department-card",
        "callcenter/department-derm",
        "callcenter/doctor-7",
    )
    assert english[card] == prompts.Spoken("Cardiology", "en")
    assert mandarin[card] == prompts.Spoken("心内科", "zh")
    assert mandarin[derm].text == "Dermatology"  # no Mandarin name: the default one
    assert english[doctor].text == "Dr. Ada Heart" and mandarin[doctor].text == "Ada Heart 医生"


def test_language_prompts_add_core_sounds_in_each_languages_voice() -> None:
    departments, doctors = _hospital_names()
    english = language_prompts("en", departments, doctors)
    mandarin = language_prompts("zh", departments, doctors)
    assert set(core_sounds_en.say_files()) <= set(english)
    assert english["digits/mon-10"] == prompts.Spoken("November", "en")
    assert set(core_sounds_zh.say_files()) <= set(mandarin)
    assert set(prompts.catalogue("zh")) <= set(mandarin)
    assert "callcenter/doctor-7" in english and "callcenter/doctor-7" in mandarin


def test_mandarin_prompts_render_with_the_mandarin_voice(tmp_path: Path) -> None:
    if shutil.which("espeak-ng") is None:
        require_or_skip("espeak-ng is not installed")
    entries = {
        prompts.WELCOME: prompts.Spoken(prompts.TEXTS["zh"][prompts.WELCOME], "zh"),
        "digits/mon-10": prompts.Spoken("十一月", "zh"),
    }
    first = build_prompts(entries, tmp_path)
    assert sorted(first.rendered) == sorted(entries)
    with wave.open(str(tmp_path / "digits" / "mon-10.wav")) as wav:
        assert (wav.getframerate(), wav.getnchannels()) == (8000, 1) and wav.getnframes() > 1000
    manifest = (tmp_path / MANIFEST).read_text()
    # The same text in another voice is another prompt: it is rendered again.
    again = build_prompts({"digits/mon-10": prompts.Spoken("十一月", "en")}, tmp_path)
    assert again.rendered == ["digits/mon-10"] and (tmp_path / MANIFEST).read_text() != manifest


# -- choosing and setting the language ------------------------------------------------------------


class LanguageAgi:
    """Answers GET DATA from ``keys`` (None = silence) and records what was set and said."""

    def __init__(self, keys: list[str | None]) -> None:
        self.keys = deque(keys)
        self.played: list[str] = []
        self.asked: list[str] = []
        self.variables: dict[str, str] = {}
        self.formats: list[str] = []
        self.env = SimpleNamespace(caller_id="")

    async def stream_file(self, prompt: str, escape_digits: str = "") -> str | None:
        self.played.append(prompt)
        return None

    async def get_data(self, prompt: str, *, timeout_ms: int, max_digits: int) -> str | None:
        self.asked.append(prompt)
        return self.keys.popleft()

    async def set_variable(self, name: str, value: str) -> None:
        self.variables[name] = value

    async def say_datetime(
        self, epoch: int, *, escape_digits: str = "", fmt: str, timezone: str
    ) -> str | None:
        self.formats.append(fmt)
        return None


def _ivr(agi: LanguageAgi) -> LocalisedIvr:
    bus = SimpleNamespace(publish=lambda item: None)
    return LocalisedIvr(cast(AgiChannel, agi), CallContext("1.1", cast(EventBus, bus)))


def _patient(language: str) -> Patient:
    return Patient(id=1, preferred_language=language)


def test_known_language_needs_every_match_to_agree_on_a_supported_one() -> None:
    assert known_language([_patient("zh")]) == "zh"
    assert known_language([_patient("zh-CN"), _patient("zh_TW")]) == "zh"
    assert known_language([_patient("zh"), _patient("en")]) is None
    assert known_language([_patient("fr")]) is None
    assert known_language([]) is None


async def test_a_known_language_is_set_without_a_menu() -> None:
    agi = LanguageAgi([])
    ivr = _ivr(agi)
    assert await choose_language(ivr, "zh") == "zh"
    assert agi.asked == [] and agi.variables == {LANGUAGE_VARIABLE: "zh"}
    assert ivr.language == "zh"


async def test_the_language_menu_reprompts_on_silence_and_sets_the_choice() -> None:
    agi = LanguageAgi([None, "*", "2"])
    ivr = _ivr(agi)
    assert await choose_language(ivr, None) == "zh"
    assert agi.asked == [prompts.CHOOSE_MANDARIN] * 3
    assert agi.played.count(prompts.CHOOSE_ENGLISH) == 3 and prompts.INVALID in agi.played
    assert agi.variables == {LANGUAGE_VARIABLE: "zh"}
    assert ivr.call.failures == {"language": 1}


async def test_zero_at_the_language_menu_reaches_an_agent() -> None:
    agi = LanguageAgi(["0"])
    with pytest.raises(ToAgent) as raised:
        await choose_language(_ivr(agi), None)
    assert raised.value.step == "language" and agi.variables == {}


async def test_three_wrong_keys_at_the_language_menu_reach_an_agent() -> None:
    agi = LanguageAgi(["7", "8", None])
    with pytest.raises(ToAgent) as raised:
        await choose_language(_ivr(agi), None)
    assert raised.value.reason == "too many failures"


async def test_dates_are_said_in_the_channel_language_order() -> None:
    agi = LanguageAgi([])
    ivr = _ivr(agi)
    on_the_hour = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    await ivr.set_language("zh")
    await ivr.play(SayDateTime(on_the_hour, "UTC"), SayDateTime(on_the_hour, "Asia/Kolkata"))
    assert agi.formats == [
        core_sounds_zh.DATETIME_FORMAT_ON_THE_HOUR,
        core_sounds_zh.DATETIME_FORMAT,  # 14:30 in India
    ]
    assert datetime_format("en", on_the_hour, "UTC") == DATETIME_FORMAT
    with pytest.raises(ValueError, match="not a prompt language"):
        await ivr.set_language("fr")
