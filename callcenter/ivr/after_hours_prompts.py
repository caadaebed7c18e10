"""Prompts of the closed branch (rendered by ``callcenter prompts build`` with the others).

A queue may have its own closed message per language (kept on /admin/hours, rendered from the
database by ``prompts build`` like department names): it replaces :data:`CLOSED`. The next
opening time between :data:`OPENS_AT` and :data:`OPENS_AFTER` is said by Asterisk
(``SAY DATETIME`` in the caller's language), never recorded. Keys are said with the kit's
``press-N`` prompts after each option's lead-in.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

from callcenter.agi.prompts import ENGLISH, MANDARIN, PREFIX, Spoken
from hcrm_core.services.opening_hours import ClosedOptions

CLOSED: Final = PREFIX + "closed"
OPENS_AT: Final = PREFIX + "closed-opens-at"
OPENS_AFTER: Final = PREFIX + "closed-opens-after"
EMERGENCY_FOR: Final = PREFIX + "closed-emergency"
VOICEMAIL_FOR: Final = PREFIX + "closed-voicemail"
CALLBACK_FOR: Final = PREFIX + "closed-callback"
RECORD_AFTER_TONE: Final = PREFIX + "closed-record"
MESSAGE_SAVED: Final = PREFIX + "closed-message-saved"
CALLBACK_SAVED: Final = PREFIX + "closed-callback-saved"
TRANSFERRING: Final = PREFIX + "closed-transferring"
# A queue's message overflow (past its maximum wait, while open).
OVERFLOW_SORRY: Final = PREFIX + "overflow-sorry"
OVERFLOW_CALLBACK_FOR: Final = PREFIX + "overflow-callback"
OVERFLOW_CALLBACK_SAVED: Final = PREFIX + "overflow-callback-saved"

TEXTS: Final[dict[str, dict[str, str]]] = {
    ENGLISH: {
        CLOSED: "Our agents are not available at this time.",
        OPENS_AT: "We open again on",
        OPENS_AFTER: "Thank you for your patience.",
        EMERGENCY_FOR: "For a medical emergency,",
        VOICEMAIL_FOR: "To leave a message for our team,",
        CALLBACK_FOR: "To be called back when we open,",
        RECORD_AFTER_TONE: (
            "Please leave your message after the tone, then press the hash key or hang up."
        ),
        MESSAGE_SAVED: "Thank you, your message has been saved. We will call you back.",
        CALLBACK_SAVED: "Thank you. We will call you back when we open.",
        TRANSFERRING: "Please hold, we are connecting you now.",
        OVERFLOW_SORRY: "We are sorry, all our agents are still busy.",
        OVERFLOW_CALLBACK_FOR: "To be called back as soon as an agent is free,",
        OVERFLOW_CALLBACK_SAVED: "Thank you. We will call you back as soon as we can.",
    },
    MANDARIN: {
        CLOSED: "现在不是人工服务时间。",
        OPENS_AT: "我们将于",
        OPENS_AFTER: "恢复服务，感谢您的耐心。",
        EMERGENCY_FOR: "如遇紧急医疗情况，",
        VOICEMAIL_FOR: "给我们留言，",
        CALLBACK_FOR: "希望我们开放后给您回电，",
        RECORD_AFTER_TONE: "请在提示音后留言，完成后请按井号键或直接挂机。",
        MESSAGE_SAVED: "谢谢，您的留言已保存，我们会给您回电。",
        CALLBACK_SAVED: "谢谢，我们开放后会给您回电。",
        TRANSFERRING: "请稍候，正在为您转接。",
        OVERFLOW_SORRY: "很抱歉，我们的工作人员仍在忙。",
        OVERFLOW_CALLBACK_FOR: "希望工作人员有空时给您回电，",
        OVERFLOW_CALLBACK_SAVED: "谢谢，我们会尽快给您回电。",
    },
}


def catalogue(language: str) -> dict[str, Spoken]:
    """The closed branch's prompts of ``language`` (none for a language without texts)."""
    return {name: Spoken(text, language) for name, text in TEXTS.get(language, {}).items()}


_SLUG_RE = re.compile(r"[^a-z0-9]+")


def closed_message_prompt(queue: str) -> str:
    """The sound name of a queue's own closed message (rendered from the database)."""
    slug = _SLUG_RE.sub("-", queue.lower()).strip("-")[:40] or "unnamed"
    return f"{PREFIX}closed-message-{slug}"


def closed_message_prompts(language: str, options: Iterable[ClosedOptions]) -> dict[str, Spoken]:
    """The queues' own closed messages written in ``language``, for ``prompts build``."""
    return {
        closed_message_prompt(o.queue): Spoken(o.closed_messages[language], language)
        for o in options
        if o.closed_messages.get(language)
    }
