"""Prompts of speech input (rendered by ``callcenter prompts build`` with the others)."""

from __future__ import annotations

from typing import Final

from callcenter.agi.prompts import ENGLISH, MANDARIN, Spoken

_PREFIX: Final = "callcenter/"

# Played after a menu that also accepts speech, just before the tone.
SAY_AFTER_TONE: Final = _PREFIX + "speech-after-tone"
# Speech was heard but is none of the choices (or not said clearly enough).
NOT_UNDERSTOOD: Final = _PREFIX + "speech-not-understood"

TEXTS: Final[dict[str, dict[str, str]]] = {
    ENGLISH: {
        SAY_AFTER_TONE: "Or say your choice after the tone.",
        NOT_UNDERSTOOD: "Sorry, I did not understand. Please use your telephone keypad.",
    },
    MANDARIN: {
        SAY_AFTER_TONE: "或者在提示音后说出您的选择。",
        NOT_UNDERSTOOD: "抱歉，我没有听懂。请使用电话按键。",
    },
}


def catalogue(language: str) -> dict[str, Spoken]:
    """The speech prompts of ``language`` (none for a language without texts here)."""
    return {name: Spoken(text, language) for name, text in TEXTS.get(language, {}).items()}
