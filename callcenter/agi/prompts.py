"""The dialogue kit's prompts: languages, the generic words every dialog uses, and sound names.

Names are relative to Asterisk's language sounds directory (``<sounds>/<lang>/callcenter/...``)
and must pass :func:`callcenter.agi.channel.sound`. One name serves every language: the dialog
sets the channel's language (``CHANNEL(language)``) and Asterisk picks ``<sounds>/zh/...`` or
``<sounds>/en/...`` itself.

Here are only the prompts of the kit itself (menus, retries, hand-over to an agent, a failed
booking) and the ones the IVR and the campaign dialogs share (department and doctor names,
rendered from the database). The IVR's own menus are in ``ivr/prompts.py``, which
builds the full catalogue ``callcenter prompts build`` renders.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

PREFIX: Final = "callcenter/"

ENGLISH: Final = "en"
MANDARIN: Final = "zh"
LANGUAGES: Final = (ENGLISH, MANDARIN)
DEFAULT_LANGUAGE: Final = ENGLISH

FOR: Final = PREFIX + "for"
MORE_CHOICES: Final = PREFIX + "more-choices"
SLOT_TAKEN: Final = PREFIX + "slot-taken"
BOOKING_FAILED: Final = PREFIX + "booking-failed"
INVALID: Final = PREFIX + "invalid"
TOO_MANY_TRIES: Final = PREFIX + "too-many-tries"
TO_AGENT: Final = PREFIX + "to-agent"
GOODBYE: Final = PREFIX + "goodbye"
PRESS: Final = tuple(PREFIX + f"press-{n}" for n in range(10))


@dataclass(frozen=True, slots=True)
class Spoken:
    """A text and the language of the voice that speaks it (usually the directory's own)."""

    text: str
    voice: str


TEXTS: Final[dict[str, dict[str, str]]] = {
    ENGLISH: {
        FOR: "For",
        MORE_CHOICES: "For more choices, press 9.",
        SLOT_TAKEN: "Sorry, that appointment has just been taken. Here are the next ones.",
        BOOKING_FAILED: "Sorry, we could not book that appointment.",
        INVALID: "Sorry, that is not a valid choice.",
        TOO_MANY_TRIES: "Sorry, we did not get that.",
        TO_AGENT: "Please hold while we connect you to an agent.",
        GOODBYE: "Thank you for calling. Goodbye.",
        **{PRESS[n]: f"press {n}." for n in range(10)},
    },
    MANDARIN: {
        FOR: "选择",
        MORE_CHOICES: "更多选项，请按9。",
        SLOT_TAKEN: "抱歉，该时间刚刚被预约。以下是接下来的时间。",
        BOOKING_FAILED: "抱歉，我们无法完成该预约。",
        INVALID: "抱歉，这不是有效的选项。",
        TOO_MANY_TRIES: "抱歉，我们没有听清。",
        TO_AGENT: "请稍候，正在为您转接人工服务。",
        GOODBYE: "感谢您的来电，再见。",
        **{PRESS[n]: f"请按{n}。" for n in range(10)},
    },
}


def supported(language: str | None) -> str | None:
    """The prompt language for a patient's language code (``zh-CN`` -> ``zh``), or None."""
    if not language:
        return None
    base = language.strip().lower().replace("_", "-").split("-", 1)[0]
    return base if base in LANGUAGES else None


_SLUG_RE = re.compile(r"[^a-z0-9]+")


def department_prompt(code: str) -> str:
    """The sound name of a department's spoken name (rendered from the database)."""
    slug = _SLUG_RE.sub("-", code.lower()).strip("-")[:40] or "unnamed"
    return f"{PREFIX}department-{slug}"


def doctor_prompt(doctor_id: int) -> str:
    """The sound name of a doctor's spoken name (rendered from the database)."""
    return f"{PREFIX}doctor-{int(doctor_id)}"
