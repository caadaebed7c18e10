"""The IVR's full prompt catalogue per language, from the catalogue and the database.

``callcenter prompts build`` renders it with :mod:`callcenter.agi.prompt_audio` (Piper for
English, espeak-ng for Mandarin -> 8 kHz WAV, only what changed): the IVR's prompts and the
dialogue kit's, department and doctor names from the database, speech input's prompts and the
core ``digits/`` sounds Asterisk's ``SAY`` needs, in the prompts' voice (Debian packages no
``zh`` core sounds, and its English ones are another speaker).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from callcenter.agi import core_sounds_en, core_sounds_zh, speech_prompts
from callcenter.ivr import after_hours_prompts, callback_prompts
from callcenter.ivr.prompts import (
    MANDARIN,
    Spoken,
    catalogue,
    department_prompt,
    doctor_prompt,
)
from callcenter.ivr.queue_handoff import queue_prompt

if TYPE_CHECKING:
    from hcrm_core.models import Department, Doctor


def database_prompts(
    departments: Iterable[tuple[str, str]], doctors: Iterable[tuple[int, str]]
) -> dict[str, str]:
    """English prompts for names held in the database: (code, name) departments, (id, name)
    doctors."""
    result = {department_prompt(code): name for code, name in departments}
    result.update({doctor_prompt(doctor_id): name for doctor_id, name in doctors})
    return result


def localised_database_prompts(
    language: str, departments: Iterable[Department], doctors: Iterable[Doctor]
) -> dict[str, Spoken]:
    """Department names in ``language`` (their ``names``, else the default name) and doctors'
    names, spoken by that language's voice."""
    result = {department_prompt(d.code): Spoken(d.name_in(language), language) for d in departments}
    for doctor in doctors:
        name = (
            f"{doctor.given_name} {doctor.family_name} 医生"
            if language == MANDARIN
            else doctor.display_name
        )
        result[doctor_prompt(doctor.id)] = Spoken(name, language)
    return result


def language_prompts(
    language: str,
    departments: Iterable[Department] = (),
    doctors: Iterable[Doctor] = (),
    queues: Iterable[tuple[str, str]] = (),
) -> dict[str, Spoken]:
    """Everything one language directory needs: the catalogue, the names from the database and
    the core ``digits/`` sounds of Asterisk's SAY commands in the language's voice."""
    result = catalogue(language)
    say = core_sounds_zh if language == MANDARIN else core_sounds_en
    result.update({name: Spoken(text, language) for name, text in say.say_files().items()})
    result.update(localised_database_prompts(language, departments, doctors))
    # Queues the main menu offers by key: (name, display name), callcenter/ivr/queue_handoff.py.
    result.update({queue_prompt(name): Spoken(shown, language) for name, shown in queues})
    # Speech input's own prompts ("or say it after the tone"): callcenter/agi/speech_prompts.py.
    result.update(speech_prompts.catalogue(language))
    # The closed branch's prompts (opening hours): callcenter/ivr/after_hours_prompts.py.
    result.update(after_hours_prompts.catalogue(language))
    # The queue callback's offer and dialog: callcenter/ivr/callback_prompts.py.
    result.update(callback_prompts.catalogue(language))
    return result
