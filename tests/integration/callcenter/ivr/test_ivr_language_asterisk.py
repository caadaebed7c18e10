"""Mandarin through the real Asterisk sandbox: the patient's language from caller ID, the
language menu for an unknown caller; Asterisk is asked (AMI Getvar) which language it plays."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from callcenter.agi import core_sounds_zh
from callcenter.ivr import prompts
from hcrm_core.db import Database
from hcrm_core.models import Channel
from tests.support.asterisk_sandbox import AsteriskSandboxHandle
from tests.support.caller import HANGUP, PatientsPhone
from tests.support.ivr_rig import (
    DOB_KEYS,
    MRN_DIGITS,
    UNKNOWN_PHONE,
    WAIT,
    LanguageRig,
    open_language_rig,
)

pytestmark = pytest.mark.asterisk
SQLITE_ONLY = pytest.mark.parametrize("database", ["sqlite"], indirect=True)
SET_MANDARIN = 'SET VARIABLE CHANNEL(language) "zh"'


@pytest.fixture
async def ivr(
    database: Database, asterisk_sandbox: AsteriskSandboxHandle, patients_phone: PatientsPhone
) -> AsyncIterator[LanguageRig]:
    async with open_language_rig(database, asterisk_sandbox, patients_phone) as rig:
        yield rig


@pytest.fixture
async def mandarin_ivr(
    database: Database, asterisk_sandbox: AsteriskSandboxHandle, patients_phone: PatientsPhone
) -> AsyncIterator[LanguageRig]:
    async with open_language_rig(
        database, asterisk_sandbox, patients_phone, preferred_language="zh"
    ) as rig:
        yield rig


@SQLITE_ONLY
async def test_mandarin_patient_books_hearing_mandarin(mandarin_ivr: LanguageRig) -> None:
    ivr = mandarin_ivr
    expected = (await ivr.hospital.free_slots(department_id=ivr.hospital.cardiology.id, limit=1))[0]
    # Date of birth, book, Cardiology, first available, option 1 (pressed as soon as the
    # offer starts: the test need not hear all three slots), confirm.
    caller = await ivr.call([DOB_KEYS, "1", "1", "1", "1"], interrupt={prompts.NEXT_SLOTS: "1"})
    left = await ivr.left(caller.linkedid)
    assert left.step == "done", (left, caller.asked)
    # No language menu: the language is set before the first prompt, and Asterisk has it.
    assert caller.commands.index(SET_MANDARIN) < caller.commands.index(
        f'STREAM FILE {prompts.WELCOME} ""'
    )
    assert prompts.CHOOSE_ENGLISH not in caller.played()
    assert caller.languages == ["zh"] * len(caller.asked)
    # Every sound played has its Mandarin file, so Asterisk played zh, not the en fallback.
    for name in caller.played():
        assert (ivr.sounds["zh"] / f"{name}.wav").exists(), name
    say_datetimes = [c for c in caller.commands if c.startswith("SAY DATETIME")]
    assert say_datetimes and all(
        core_sounds_zh.DATETIME_FORMAT_ON_THE_HOUR in c for c in say_datetimes
    )
    (appointment,) = await ivr.appointments_of(ivr.patient.id)
    assert appointment.slot_id == expected.slot_id and appointment.channel == Channel.IVR
    call = await ivr.rig.row(caller.linkedid)
    assert call.ivr_context["language"] == "zh"
    assert call.ivr_context["language_from"] == "patient-record"


@SQLITE_ONLY
async def test_unknown_caller_chooses_mandarin_then_is_identified(ivr: LanguageRig) -> None:
    # 2 at the language menu; the record number (then #) and date of birth; hang up at the menu.
    caller = await ivr.call(["2", MRN_DIGITS + "#", DOB_KEYS, HANGUP], caller_id=UNKNOWN_PHONE)
    await ivr.rig.ended(caller.linkedid, timeout=WAIT)
    assert caller.asked == [
        prompts.CHOOSE_MANDARIN,
        prompts.ASK_MRN,
        prompts.ASK_DOB,
        prompts.MAIN_MENU,
    ]
    assert caller.played()[:2] == [prompts.CHOOSE_ENGLISH, prompts.CHOOSE_MANDARIN]
    assert caller.languages[0] == "en" and caller.languages[1:] == ["zh"] * 3
    (chosen,) = ivr.steps(caller.linkedid, "language-set")
    assert chosen.context == {"language": "zh", "language_from": "caller"}
    call = await ivr.rig.row(caller.linkedid)
    assert call.patient_id == ivr.patient.id
    assert call.ivr_context["identified_by"] == "mrn" and call.ivr_last_step == "main-menu"


@SQLITE_ONLY
async def test_silence_at_the_language_menu_reprompts_then_english(ivr: LanguageRig) -> None:
    caller = await ivr.call(["", "1", HANGUP], caller_id=UNKNOWN_PHONE)
    await ivr.rig.ended(caller.linkedid, timeout=WAIT)
    assert caller.asked == [prompts.CHOOSE_MANDARIN, prompts.CHOOSE_MANDARIN, prompts.ASK_MRN]
    assert prompts.INVALID in caller.played()
    assert caller.languages == ["en", "en", "en"]
    (chosen,) = ivr.steps(caller.linkedid, "language-set")
    assert chosen.context == {"language": "en", "language_from": "caller"}
    call = await ivr.rig.row(caller.linkedid)
    assert call.ivr_context["last_failure"] == "silence" and call.ivr_last_step == "identify-mrn"
    silences = [p for p in ivr.steps(caller.linkedid, "language") if p.context]
    assert [p.context for p in silences] == [{"last_failure": "silence"}]
