"""Speech recognition with the real Korean Vosk model and espeak-ng speech.

Grammars are built as the IVR builds them (department names and synonyms, yes/no words); what
is asserted is what the real model hears, including the cases it must refuse.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from callcenter.ivr.speech import Grammar, Recognition, Recognizer, match
from callcenter.ivr.speech_input import YES_NO, _department_phrases
from hcrm_core.models import Department
from tests.support.speech import korean_recognizer, spoken, write_spoken

__all__ = ["korean_recognizer"]  # the session fixture, imported for this module
MIN_CONFIDENCE = 0.9

OBSTETRICS = Department(code="OBGY", name="Obstetrics", names={"ko": "산부인과"}, synonyms=[])
ORTHOPAEDICS = Department(
    code="ORTH", name="Orthopaedics", names={"ko": "정형외과"}, synonyms=["bones"]
)


def department_grammar(recognizer: Recognizer) -> Grammar[Department]:
    return recognizer.restrict(Grammar.of(_department_phrases([OBSTETRICS, ORTHOPAEDICS], "ko")))


def yes_no_grammar(recognizer: Recognizer) -> Grammar[bool]:
    yes, no = YES_NO["ko"]
    return recognizer.restrict(Grammar.of([*((w, True) for w in yes), *((w, False) for w in no)]))


def hear(recognizer: Recognizer, text: str, grammar: Grammar[object]) -> Recognition:
    return recognizer.recognize_pcm(spoken(text).raw_data, 8000, grammar)


def test_grammar_keeps_only_words_the_model_knows(korean_recognizer: Recognizer) -> None:
    grammar = department_grammar(korean_recognizer)
    # English names and synonyms are not Korean words: the model could never hear them.
    assert grammar.phrases == {"산부인과": OBSTETRICS, "정형외과": ORTHOPAEDICS}


@pytest.mark.parametrize(("said", "expected"), [("산부인과", "OBGY"), ("정형외과", "ORTH")])
def test_a_department_name_is_recognised(
    korean_recognizer: Recognizer, said: str, expected: str
) -> None:
    grammar = department_grammar(korean_recognizer)
    recognition = hear(korean_recognizer, said, grammar)
    chosen = match(recognition, grammar, MIN_CONFIDENCE)
    assert chosen is not None and chosen.code == expected, recognition


@pytest.mark.parametrize(("said", "expected"), [("네", True), ("아니요", False)])
def test_yes_and_no_are_recognised(
    korean_recognizer: Recognizer, said: str, expected: bool
) -> None:
    grammar = yes_no_grammar(korean_recognizer)
    assert match(hear(korean_recognizer, said, grammar), grammar, MIN_CONFIDENCE) is expected


def test_words_outside_the_grammar_are_refused(korean_recognizer: Recognizer) -> None:
    grammar = department_grammar(korean_recognizer)
    # "Thank you, goodbye": the grammar forces it onto known words, but not onto one phrase.
    recognition = hear(korean_recognizer, "감사합니다 안녕히 계세요", grammar)
    assert recognition.text and recognition.text not in grammar.phrases
    assert match(recognition, grammar, MIN_CONFIDENCE) is None


def test_a_guess_below_the_confidence_threshold_is_refused(korean_recognizer: Recognizer) -> None:
    grammar = department_grammar(korean_recognizer)
    # "Thank you" is none of them; the model's best guess is one phrase, heard unsurely.
    recognition = hear(korean_recognizer, "감사합니다", grammar)
    assert recognition.text in grammar.phrases
    assert recognition.confidence < MIN_CONFIDENCE
    assert match(recognition, grammar, MIN_CONFIDENCE) is None
    assert match(recognition, grammar, 0.3) == grammar.phrases[recognition.text]


def test_recognition_from_a_wav_file(korean_recognizer: Recognizer, tmp_path: Path) -> None:
    grammar = yes_no_grammar(korean_recognizer)
    path = write_spoken("아니요", tmp_path / "answer.wav")
    assert match(korean_recognizer.recognize_file(path, grammar), grammar, MIN_CONFIDENCE) is False


def test_a_phrase_claimed_by_two_values_is_dropped() -> None:
    grammar = Grammar.of([("Heart", 1), ("heart ", 2), ("skin", 3), ("Skin", 3)])
    assert grammar.phrases == {"skin": 3}


def test_nothing_heard_matches_nothing() -> None:
    grammar = Grammar.of([("예", True)])
    assert match(Recognition(""), grammar, 0.1) is None
    assert Recognition("").confidence == 0.0


def test_the_weakest_word_decides() -> None:
    grammar = Grammar.of([("산부인과", "OBGY")])
    sure = Recognition("산부인과", (("산부인과", 0.95),))
    assert match(sure, grammar, 0.9) == "OBGY"
    assert match(Recognition("산부인과", (("산부인과", 0.89),)), grammar, 0.9) is None
    two = Grammar.of([("yes please", True)])
    assert match(Recognition("yes please", (("yes", 0.99), ("please", 0.5))), two, 0.9) is None


def test_a_directory_that_is_no_model_is_refused_with_its_path(tmp_path: Path) -> None:
    from callcenter.speech_model import SpeechUnavailable, load_model

    with pytest.raises(SpeechUnavailable, match=str(tmp_path)):
        load_model(tmp_path)


def test_speech_settings_are_validated_and_default_to_the_bundled_model(tmp_path: Path) -> None:
    from callcenter.ivr.speech_input import model_dir
    from callcenter.settings import SettingsError, SpeechSettings, load_settings
    from callcenter.speech_model import bundled_model_dir

    config = tmp_path / "site.toml"
    config.write_text("[speech]\nenabled = true\nmin_confidence = 2\n")
    with pytest.raises(SettingsError, match=r"speech\.min_confidence"):
        load_settings(config)
    assert model_dir(SpeechSettings(enabled=True)) == bundled_model_dir()
    assert model_dir(SpeechSettings(model_dir=tmp_path)) == tmp_path
