"""The dialog helpers in the caller's language.

:class:`LocalisedIvr` is :class:`callcenter.agi.dialog.Ivr` plus a language: it sets the
channel's ``CHANNEL(language)``, so Asterisk plays ``<sounds>/<lang>/callcenter/...`` for the same
prompt names and speaks numbers and dates with that language's rules (``say.c``), and it says an
appointment's date and time in that language's word order.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from callcenter.agi import core_sounds_zh, prompts
from callcenter.agi.dialog import DATETIME_FORMAT, Ivr, SayDateTime, Segment

LANGUAGE_VARIABLE = "CHANNEL(language)"


def datetime_format(language: str, moment: datetime, timezone: str) -> str:
    """The SayUnixTime format for an appointment time in ``language``."""
    if language != prompts.MANDARIN:
        return DATETIME_FORMAT
    on_the_hour = moment.astimezone(ZoneInfo(timezone)).minute == 0
    return (
        core_sounds_zh.DATETIME_FORMAT_ON_THE_HOUR
        if on_the_hour
        else core_sounds_zh.DATETIME_FORMAT
    )


class LocalisedIvr(Ivr):
    """One caller's dialog, spoken in their language (English until :meth:`set_language`)."""

    async def set_language(self, language: str) -> None:
        """Speak ``language`` from now on (a catalogue language: ``en`` or ``zh``)."""
        if language not in prompts.LANGUAGES:
            raise ValueError(f"not a prompt language: {language!r}")
        await self.agi.set_variable(LANGUAGE_VARIABLE, language)
        self.language = language

    async def say_number(self, number: int) -> None:
        """A number said by Asterisk in the channel's language (not interruptible)."""
        await self.agi.say_number(number)

    async def _say(self, segment: Segment, escape: str) -> str | None:
        if isinstance(segment, SayDateTime) and self.language != prompts.DEFAULT_LANGUAGE:
            return await self.agi.say_datetime(
                int(segment.moment.timestamp()),
                escape_digits=escape,
                fmt=datetime_format(self.language, segment.moment, segment.timezone),
                timezone=segment.timezone,
            )
        return await super()._say(segment, escape)
