"""Choose the language the caller hears: the patient's own when caller ID tells it, else ask.

The menu ("For English, press 1. 普通话服务，请按2。") is spoken each part in its own language,
so it is understood before any language is set. Keys, repeats, silence and the agent key work as
in every other menu.
"""

from __future__ import annotations

from collections.abc import Sequence

from callcenter.agi.localised import LocalisedIvr
from callcenter.ivr import prompts
from hcrm_core.models import Patient

LANGUAGE_MENU = (prompts.CHOOSE_ENGLISH, prompts.CHOOSE_MANDARIN)
LANGUAGE_KEYS = {"1": prompts.ENGLISH, "2": prompts.MANDARIN}


def known_language(matches: Sequence[Patient]) -> str | None:
    """The language every caller-ID match prefers, if they agree and it has prompts.

    Only the language is used before the date of birth is confirmed: nothing private is said."""
    languages = {prompts.supported(p.preferred_language) for p in matches}
    if len(languages) != 1:
        return None
    return languages.pop()


async def choose_language(ivr: LocalisedIvr, known: str | None) -> str:
    """Set the call's language: ``known`` (from the patient record) or the caller's choice."""
    if known is None:
        language = await ivr.menu(list(LANGUAGE_MENU), LANGUAGE_KEYS, step="language")
        source = "caller"
    else:
        language, source = known, "patient-record"
    await ivr.set_language(language)
    ivr.call.enter("language-set", language=language, language_from=source)
    return language
