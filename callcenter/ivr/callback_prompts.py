"""Prompts of the queue callback (rendered by ``callcenter prompts build`` with the others).

The offer is queues.conf's periodic announcement (its name is shared with the configuration:
:data:`callcenter.asterisk.const.CALLBACK_OFFER_PROMPT`); the number read back between
:data:`CALLBACK_AT` and :data:`CONFIRM` is said digit by digit by Asterisk.
"""

from __future__ import annotations

from typing import Final

from callcenter.agi.prompts import ENGLISH, MANDARIN, PREFIX, Spoken
from callcenter.asterisk.const import CALLBACK_OFFER_PROMPT

OFFER: Final = CALLBACK_OFFER_PROMPT
CALLBACK_AT: Final = PREFIX + "callback-at"
CONFIRM: Final = PREFIX + "callback-confirm"
ENTER_NUMBER: Final = PREFIX + "callback-enter"
REFUSED: Final = PREFIX + "callback-refused"
SAVED: Final = PREFIX + "callback-saved"
KEPT: Final = PREFIX + "callback-kept"

TEXTS: Final[dict[str, dict[str, str]]] = {
    ENGLISH: {
        OFFER: "To be called back without losing your place in the queue, press 1.",
        CALLBACK_AT: "We will call you back at",
        CONFIRM: "To confirm this number, press 1. To give another number, press 2.",
        ENTER_NUMBER: "Please enter the number to call you back on, then press the hash key.",
        REFUSED: "Sorry, we cannot call that number. You keep your place in the queue.",
        KEPT: "You keep your place in the queue.",
        SAVED: (
            "Thank you. You keep your place in the queue: "
            "an agent will call you back when it is your turn."
        ),
    },
    MANDARIN: {
        OFFER: "如需保留排队位置并等待回电，请按1。",
        CALLBACK_AT: "我们将回电至",
        CONFIRM: "确认此号码请按1，使用其他号码请按2。",
        ENTER_NUMBER: "请输入回电号码，以井号键结束。",
        REFUSED: "抱歉，我们无法拨打该号码。您的排队位置保持不变。",
        KEPT: "您的排队位置保持不变。",
        SAVED: "谢谢。您的排队位置已保留，轮到您时工作人员会给您回电。",
    },
}


def catalogue(language: str) -> dict[str, Spoken]:
    return {name: Spoken(text, language) for name, text in TEXTS.get(language, {}).items()}
